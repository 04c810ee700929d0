package etl

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// FlatGeobuf (version 3) is read and written on the flatbuffers runtime
// with the table layouts of the format's header.fbs and feature.fbs: the
// official Go package is not on the module proxy. Files are written
// without the optional spatial index (index_node_size 0), which readers
// such as GDAL accept; features then stay in input order.

var fgbMagic = []byte{'f', 'g', 'b', 3, 'f', 'g', 'b', 1}

// FlatGeobuf column types.
const (
	fgbByte byte = iota
	fgbUByte
	fgbBool
	fgbShort
	fgbUShort
	fgbInt
	fgbUInt
	fgbLong
	fgbULong
	fgbFloat
	fgbDouble
	fgbString
	fgbJSON
	fgbDateTime
	fgbBinary
)

// fgbSizes are the byte sizes of the fixed-size column types.
var fgbSizes = [...]int{fgbByte: 1, fgbUByte: 1, fgbBool: 1, fgbShort: 2, fgbUShort: 2, fgbInt: 4, fgbUInt: 4, fgbLong: 8, fgbULong: 8, fgbFloat: 4, fgbDouble: 8}

func slot(i int) flatbuffers.VOffsetT { return flatbuffers.VOffsetT(4 + 2*i) }

type fgbTable struct{ flatbuffers.Table }

func (t fgbTable) str(i int) (string, bool) {
	o := flatbuffers.UOffsetT(t.Offset(slot(i)))
	if o == 0 {
		return "", false
	}
	return t.String(o + t.Pos), true
}

func (t fgbTable) table(i int) (fgbTable, bool) {
	o := flatbuffers.UOffsetT(t.Offset(slot(i)))
	if o == 0 {
		return fgbTable{}, false
	}
	return fgbTable{flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(o + t.Pos)}}, true
}

// vec returns the start and length of a vector field of elements of the
// given size, checked against the buffer before anything is allocated for
// it (the panic is turned into an error by guard).
func (t fgbTable) vec(i, elem int) (flatbuffers.UOffsetT, int) {
	o := flatbuffers.UOffsetT(t.Offset(slot(i)))
	if o == 0 {
		return 0, 0
	}
	start, n := t.Vector(o), t.VectorLen(o)
	if n < 0 || int64(start)+int64(n)*int64(elem) > int64(len(t.Bytes)) {
		panic("vector out of bounds")
	}
	return start, n
}

func (t fgbTable) tables(i int) []fgbTable {
	start, n := t.vec(i, 4)
	out := make([]fgbTable, n)
	for k := range n {
		p := start + flatbuffers.UOffsetT(4*k)
		out[k] = fgbTable{flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(p)}}
	}
	return out
}

func (t fgbTable) float64s(i int) []float64 {
	start, n := t.vec(i, 8)
	if n == 0 {
		return nil
	}
	if int(start)+8*n > len(t.Bytes) {
		panic("vector out of bounds")
	}
	out := make([]float64, n)
	for k := range n {
		out[k] = math.Float64frombits(binary.LittleEndian.Uint64(t.Bytes[int(start)+8*k:]))
	}
	return out
}

func (t fgbTable) uint32s(i int) []uint32 {
	start, n := t.vec(i, 4)
	if int(start)+4*n > len(t.Bytes) {
		panic("vector out of bounds")
	}
	out := make([]uint32, n)
	for k := range n {
		out[k] = binary.LittleEndian.Uint32(t.Bytes[int(start)+4*k:])
	}
	return out
}

func (t fgbTable) bytes(i int) []byte {
	start, n := t.vec(i, 1)
	if int(start)+n > len(t.Bytes) {
		panic("vector out of bounds")
	}
	return t.Bytes[start : int(start)+n]
}

type fgbColumn struct {
	name string
	typ  byte
}

type fgbHeader struct {
	geomType     byte
	hasZ, hasM   bool
	columns      []fgbColumn
	count        uint64
	nodeSize     uint16
	crsCode      int
	crsOrg       string
	crsWKT       string
	hasCRS       bool
	featuresRead int
}

// guard turns a panic from the flatbuffers runtime (which trusts its
// input) into an error.
func guard(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s is corrupt (%v)", what, r)
	}
}

func parseFGBHeader(buf []byte) (h fgbHeader, err error) {
	defer guard("the FlatGeobuf header", &err)
	t := fgbTable{flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}}
	h.geomType = t.GetUint8Slot(slot(2), 0)
	h.hasZ = t.GetBoolSlot(slot(3), false)
	h.hasM = t.GetBoolSlot(slot(4), false)
	for _, c := range t.tables(7) {
		name, _ := c.str(0)
		h.columns = append(h.columns, fgbColumn{name: name, typ: c.GetUint8Slot(slot(1), 0)})
	}
	h.count = t.GetUint64Slot(slot(8), 0)
	h.nodeSize = t.GetUint16Slot(slot(9), 16)
	if c, ok := t.table(10); ok {
		h.hasCRS = true
		h.crsOrg, _ = c.str(0)
		h.crsCode = int(c.GetInt32Slot(slot(1), 0))
		h.crsWKT, _ = c.str(4)
	}
	return h, nil
}

// fgbIndexSize is the byte size of the packed Hilbert R-tree that follows
// the header when index_node_size > 0.
func fgbIndexSize(count uint64, nodeSize uint16) (int64, error) {
	if nodeSize == 0 || count == 0 {
		return 0, nil
	}
	if nodeSize < 2 {
		return 0, errors.New("index node size below 2")
	}
	n := count
	total := n
	for n != 1 {
		n = (n + uint64(nodeSize) - 1) / uint64(nodeSize)
		total += n
		if total > 1<<40 {
			return 0, errors.New("implausible index size")
		}
	}
	return int64(total) * 40, nil
}

func (h *fgbHeader) crsOf(name string) (int, error) {
	if !h.hasCRS {
		return 0, fmt.Errorf("FlatGeobuf %s does not say its CRS; give the source's crs parameter", name)
	}
	if h.crsCode != 0 && (h.crsOrg == "" || equalFoldASCII(h.crsOrg, "EPSG")) {
		if _, err := crs.Lookup(h.crsCode); err != nil {
			return 0, fmt.Errorf("FlatGeobuf %s: %v", name, err)
		}
		return h.crsCode, nil
	}
	if h.crsWKT != "" {
		c, err := crsFromWKT(h.crsWKT)
		if err != nil {
			return 0, fmt.Errorf("FlatGeobuf %s: the CRS cannot be identified (%v); give the source's crs parameter", name, err)
		}
		return c, nil
	}
	return 0, fmt.Errorf("FlatGeobuf %s: CRS %s:%d is not supported; give the source's crs parameter", name, h.crsOrg, h.crsCode)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

func readFlatGeobuf(ctx context.Context, rd io.Reader, name string, override int, emit func(Feature) error) error {
	br := bufio.NewReaderSize(rd, 1<<20)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic[:3]) != "fgb" || magic[3] != 3 {
		return fmt.Errorf("%s is not a FlatGeobuf version 3 file", name)
	}
	readSized := func(limit uint32) ([]byte, error) {
		var sz [4]byte
		if _, err := io.ReadFull(br, sz[:]); err != nil {
			return nil, err
		}
		n := binary.LittleEndian.Uint32(sz[:])
		if n > limit {
			return nil, fmt.Errorf("a block of %d bytes is larger than allowed", n)
		}
		// Read through a limit rather than into make([]byte, n), so that a
		// corrupt size cannot allocate more than the file holds.
		if n <= 1<<16 {
			buf := make([]byte, n)
			if _, err := io.ReadFull(br, buf); err != nil {
				return nil, io.ErrUnexpectedEOF
			}
			return buf, nil
		}
		buf, err := io.ReadAll(io.LimitReader(br, int64(n)))
		if err != nil || len(buf) != int(n) {
			return nil, io.ErrUnexpectedEOF
		}
		return buf, nil
	}
	hb, err := readSized(64 << 20)
	if err != nil {
		return fmt.Errorf("%s: the FlatGeobuf header is truncated", name)
	}
	h, err := parseFGBHeader(hb)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	code := override
	if code == 0 {
		if code, err = h.crsOf(name); err != nil {
			return err
		}
	}
	skip, err := fgbIndexSize(h.count, h.nodeSize)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if _, err := io.CopyN(io.Discard, br, skip); err != nil {
		return fmt.Errorf("%s: the spatial index is truncated", name)
	}
	for n := 1; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		fb, err := readSized(256 << 20)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: feature %d is truncated", name, n)
		}
		f, err := decodeFGBFeature(fb, &h)
		if err != nil {
			return fmt.Errorf("%s: feature %d: %v", name, n, err)
		}
		f.CRS = code
		if err := emit(f); err != nil {
			return err
		}
	}
}

func decodeFGBFeature(buf []byte, h *fgbHeader) (f Feature, err error) {
	defer guard("the feature", &err)
	t := fgbTable{flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}}
	if g, ok := t.table(0); ok {
		if f.Geometry, err = decodeFGBGeometry(g, h.geomType, h.hasZ, h.hasM); err != nil {
			return f, err
		}
	}
	cols := h.columns
	if fc := t.tables(2); len(fc) > 0 {
		cols = cols[:0:0]
		for _, c := range fc {
			name, _ := c.str(0)
			cols = append(cols, fgbColumn{name: name, typ: c.GetUint8Slot(slot(1), 0)})
		}
	}
	props := make(Properties, len(cols))
	for i, c := range cols {
		props[i] = Property{Key: c.name}
	}
	p := t.bytes(1)
	le := binary.LittleEndian
	for len(p) > 0 {
		if len(p) < 2 {
			return f, errors.New("properties are truncated")
		}
		ci := int(le.Uint16(p))
		p = p[2:]
		if ci >= len(cols) {
			return f, fmt.Errorf("property for column %d of %d", ci, len(cols))
		}
		need := 4 // the length prefix of strings, JSON, date-times and binaries
		if t := cols[ci].typ; t <= fgbDouble {
			need = fgbSizes[t]
		}
		if len(p) < need {
			return f, fmt.Errorf("property %q is truncated", cols[ci].name)
		}
		var v any
		switch cols[ci].typ {
		case fgbByte:
			v = int64(int8(p[0]))
		case fgbUByte:
			v = int64(p[0])
		case fgbBool:
			v = p[0] != 0
		case fgbShort:
			v = int64(int16(le.Uint16(p)))
		case fgbUShort:
			v = int64(le.Uint16(p))
		case fgbInt:
			v = int64(int32(le.Uint32(p)))
		case fgbUInt:
			v = int64(le.Uint32(p))
		case fgbLong:
			v = int64(le.Uint64(p))
		case fgbULong:
			u := le.Uint64(p)
			if u > math.MaxInt64 {
				return f, fmt.Errorf("property %q: %d does not fit a 64-bit integer", cols[ci].name, u)
			}
			v = int64(u)
		case fgbFloat:
			v = float64(math.Float32frombits(le.Uint32(p)))
		case fgbDouble:
			v = math.Float64frombits(le.Uint64(p))
		case fgbString, fgbJSON, fgbDateTime, fgbBinary:
			n := int(le.Uint32(p))
			if len(p) < 4+n {
				return f, fmt.Errorf("property %q is truncated", cols[ci].name)
			}
			b := p[4 : 4+n]
			need = 4 + n
			switch cols[ci].typ {
			case fgbBinary:
				v = append([]byte(nil), b...)
			case fgbJSON:
				var j any
				if err := unmarshalJSON(b, &j); err != nil {
					return f, fmt.Errorf("property %q is not valid JSON", cols[ci].name)
				}
				v = normalizeNested(j)
			default:
				v = string(b)
			}
		default:
			return f, fmt.Errorf("column %q has unknown type %d", cols[ci].name, cols[ci].typ)
		}
		props[ci].Value = v
		p = p[need:]
	}
	f.Props = props
	return f, nil
}

func decodeFGBGeometry(g fgbTable, headerType byte, hasZ, hasM bool) (geom.Geometry, error) {
	typ := g.GetUint8Slot(slot(6), 0)
	if headerType != 0 && typ == 0 {
		typ = headerType
	}
	xy := g.float64s(1)
	zs, ms := g.float64s(2), g.float64s(3)
	ct := dimOf(hasZ && zs != nil, hasM && ms != nil)
	seq := func(from, to int) (geom.Sequence, error) {
		if from < 0 || to*2 > len(xy) || from > to || (zs != nil && len(zs) < to) || (ms != nil && len(ms) < to) {
			return geom.Sequence{}, errors.New("coordinate arrays do not match")
		}
		flat := make([]float64, 0, (to-from)*ct.Dimension())
		for i := from; i < to; i++ {
			flat = append(flat, xy[2*i], xy[2*i+1])
			if ct.Is3D() {
				flat = append(flat, zs[i])
			}
			if ct.IsMeasured() {
				flat = append(flat, ms[i])
			}
		}
		return geom.NewSequence(flat, ct), nil
	}
	parts := func() ([]geom.Sequence, error) {
		ends := g.uint32s(0)
		if len(ends) == 0 {
			ends = []uint32{uint32(len(xy) / 2)}
		}
		out := make([]geom.Sequence, len(ends))
		start := 0
		for i, e := range ends {
			s, err := seq(start, int(e))
			if err != nil {
				return nil, err
			}
			out[i] = s
			start = int(e)
		}
		return out, nil
	}
	switch typ {
	case 1:
		if len(xy) == 0 {
			return geom.Point{}.ForceCoordinatesType(ct).AsGeometry(), nil
		}
		s, err := seq(0, 1)
		if err != nil {
			return geom.Geometry{}, err
		}
		return geom.NewPoint(s.Get(0)).AsGeometry(), nil
	case 2, 4:
		s, err := seq(0, len(xy)/2)
		if err != nil {
			return geom.Geometry{}, err
		}
		if typ == 2 {
			return geom.NewLineString(s).AsGeometry(), nil
		}
		pts := make([]geom.Point, s.Length())
		for i := range pts {
			pts[i] = geom.NewPoint(s.Get(i))
		}
		return geom.NewMultiPoint(pts).AsGeometry(), nil
	case 3, 5:
		if len(xy) == 0 {
			if typ == 3 {
				return geom.Polygon{}.ForceCoordinatesType(ct).AsGeometry(), nil
			}
			return geom.MultiLineString{}.ForceCoordinatesType(ct).AsGeometry(), nil
		}
		ps, err := parts()
		if err != nil {
			return geom.Geometry{}, err
		}
		ls := make([]geom.LineString, len(ps))
		for i, s := range ps {
			ls[i] = geom.NewLineString(s)
		}
		if typ == 3 {
			return geom.NewPolygon(ls).AsGeometry(), nil
		}
		return geom.NewMultiLineString(ls).AsGeometry(), nil
	case 6, 7:
		var gs []geom.Geometry
		for _, p := range g.tables(7) {
			pt := byte(3)
			if typ == 7 {
				pt = 0
			}
			sub, err := decodeFGBGeometry(p, pt, hasZ, hasM)
			if err != nil {
				return geom.Geometry{}, err
			}
			gs = append(gs, sub)
		}
		if typ == 7 {
			return geom.NewGeometryCollection(gs).AsGeometry(), nil
		}
		ps := make([]geom.Polygon, 0, len(gs))
		for _, s := range gs {
			p, ok := s.AsPolygon()
			if !ok {
				return geom.Geometry{}, errors.New("a MultiPolygon part is not a polygon")
			}
			ps = append(ps, p)
		}
		return geom.NewMultiPolygon(ps).ForceCoordinatesType(ct).AsGeometry(), nil
	}
	return geom.Geometry{}, fmt.Errorf("FlatGeobuf geometry type %d is not supported", typ)
}

// ---- writing ----

func fgbGeomType(t geom.GeometryType) byte {
	switch t {
	case geom.TypePoint:
		return 1
	case geom.TypeLineString:
		return 2
	case geom.TypePolygon:
		return 3
	case geom.TypeMultiPoint:
		return 4
	case geom.TypeMultiLineString:
		return 5
	case geom.TypeMultiPolygon:
		return 6
	}
	return 7
}

func fgbColumnType(t FieldType) byte {
	switch t {
	case FieldInteger:
		return fgbLong
	case FieldReal:
		return fgbDouble
	case FieldBoolean:
		return fgbBool
	case FieldDate, FieldDateTime:
		return fgbDateTime
	case FieldJSON:
		return fgbJSON
	case FieldBinary:
		return fgbBinary
	}
	return fgbString
}

type fgbWriter struct {
	last     int // bytes of the last feature written
	w        *bufio.Writer
	b        *flatbuffers.Builder
	fields   []Field
	hdrType  byte
	ct       geom.CoordinatesType
	props    []byte
	jsonBuf  []byte
	floatBuf []float64
}

// newFGBEncoder encodes features for w without writing a header.
func newFGBEncoder(w io.Writer, fields []Field, geomType byte, ct geom.CoordinatesType) *fgbWriter {
	return &fgbWriter{w: bufio.NewWriterSize(w, 1<<20), b: flatbuffers.NewBuilder(1024), fields: fields, hdrType: geomType, ct: ct}
}

// newFGBWriter writes the magic bytes and the header (with the index node
// size; 0 for no index) and returns the encoder of the features.
func newFGBWriter(w io.Writer, name string, fields []Field, geomType byte, ct geom.CoordinatesType, count uint64, env *[4]float64, code int, nodeSize uint16) (*fgbWriter, error) {
	fw := newFGBEncoder(w, fields, geomType, ct)
	b := fw.b
	cols := make([]flatbuffers.UOffsetT, len(fields))
	for i, f := range fields {
		n := b.CreateString(f.Name)
		b.StartObject(11)
		b.PrependUOffsetTSlot(0, n, 0)
		b.PrependUint8Slot(1, fgbColumnType(f.Type), 0)
		cols[i] = b.EndObject()
	}
	b.StartVector(4, len(cols), 4)
	for i := len(cols) - 1; i >= 0; i-- {
		b.PrependUOffsetT(cols[i])
	}
	colVec := b.EndVector(len(cols))
	var crsOff flatbuffers.UOffsetT
	if code != 0 {
		c, err := crs.Lookup(code)
		if err != nil {
			return nil, err
		}
		wkt := b.CreateString(c.WKT)
		cname := b.CreateString(c.Name)
		var org flatbuffers.UOffsetT
		epsg := code > 0 && code < 1_000_000
		if epsg {
			org = b.CreateString("EPSG")
		}
		b.StartObject(6)
		if epsg {
			b.PrependUOffsetTSlot(0, org, 0)
			b.PrependInt32Slot(1, int32(code), 0)
		}
		b.PrependUOffsetTSlot(2, cname, 0)
		b.PrependUOffsetTSlot(4, wkt, 0)
		crsOff = b.EndObject()
	}
	nameOff := b.CreateString(name)
	var envOff flatbuffers.UOffsetT
	if env != nil {
		b.StartVector(8, 4, 8)
		for i := 3; i >= 0; i-- {
			b.PrependFloat64(env[i])
		}
		envOff = b.EndVector(4)
	}
	b.StartObject(14)
	b.PrependUOffsetTSlot(0, nameOff, 0)
	if env != nil {
		b.PrependUOffsetTSlot(1, envOff, 0)
	}
	b.PrependUint8Slot(2, geomType, 0)
	b.PrependBoolSlot(3, ct.Is3D(), false)
	b.PrependBoolSlot(4, ct.IsMeasured(), false)
	b.PrependUOffsetTSlot(7, colVec, 0)
	b.PrependUint64Slot(8, count, 0)
	b.PrependUint16Slot(9, nodeSize, 16)
	if crsOff != 0 {
		b.PrependUOffsetTSlot(10, crsOff, 0)
	}
	b.FinishSizePrefixed(b.EndObject())
	fw.w.Write(fgbMagic)
	if _, err := fw.w.Write(b.FinishedBytes()); err != nil {
		return nil, err
	}
	return fw, nil
}

func (fw *fgbWriter) float64Vector(vals []float64) flatbuffers.UOffsetT {
	b := fw.b
	b.StartVector(8, len(vals), 8)
	for i := len(vals) - 1; i >= 0; i-- {
		b.PrependFloat64(vals[i])
	}
	return b.EndVector(len(vals))
}

// geometry builds a Geometry table; typed says whether to write its
// type (inside collections, or when the header's type is Unknown).
func (fw *fgbWriter) geometry(g geom.Geometry, typed bool) (flatbuffers.UOffsetT, error) {
	b := fw.b
	var partOffs []flatbuffers.UOffsetT
	var seqs []geom.Sequence
	switch g.Type() {
	case geom.TypePoint:
		if c, ok := g.MustAsPoint().Coordinates(); ok {
			flat := []float64{c.X, c.Y}
			if c.Type.Is3D() {
				flat = append(flat, c.Z)
			}
			if c.Type.IsMeasured() {
				flat = append(flat, c.M)
			}
			seqs = []geom.Sequence{geom.NewSequence(flat, c.Type)}
		}
	case geom.TypeLineString:
		seqs = []geom.Sequence{g.MustAsLineString().Coordinates()}
	case geom.TypeMultiPoint:
		seqs = []geom.Sequence{g.MustAsMultiPoint().Coordinates()}
	case geom.TypePolygon:
		seqs = g.MustAsPolygon().Coordinates()
	case geom.TypeMultiLineString:
		seqs = g.MustAsMultiLineString().Coordinates()
	case geom.TypeMultiPolygon:
		mp := g.MustAsMultiPolygon()
		for i := range mp.NumPolygons() {
			o, err := fw.geometry(mp.PolygonN(i).AsGeometry(), false)
			if err != nil {
				return 0, err
			}
			partOffs = append(partOffs, o)
		}
	case geom.TypeGeometryCollection:
		gc := g.MustAsGeometryCollection()
		for i := range gc.NumGeometries() {
			o, err := fw.geometry(gc.GeometryN(i), true)
			if err != nil {
				return 0, err
			}
			partOffs = append(partOffs, o)
		}
	}
	var endsOff, xyOff, zOff, mOff, partsOff flatbuffers.UOffsetT
	if len(seqs) > 0 {
		var xy, zs, ms []float64
		var ends []uint32
		n := 0
		for _, s := range seqs {
			for i := range s.Length() {
				c := s.Get(i)
				xy = append(xy, c.X, c.Y)
				if fw.ct.Is3D() {
					zs = append(zs, c.Z)
				}
				if fw.ct.IsMeasured() {
					ms = append(ms, c.M)
				}
			}
			n += s.Length()
			ends = append(ends, uint32(n))
		}
		if len(ends) > 1 {
			b.StartVector(4, len(ends), 4)
			for i := len(ends) - 1; i >= 0; i-- {
				b.PrependUint32(ends[i])
			}
			endsOff = b.EndVector(len(ends))
		}
		xyOff = fw.float64Vector(xy)
		if zs != nil {
			zOff = fw.float64Vector(zs)
		}
		if ms != nil {
			mOff = fw.float64Vector(ms)
		}
	}
	if len(partOffs) > 0 {
		b.StartVector(4, len(partOffs), 4)
		for i := len(partOffs) - 1; i >= 0; i-- {
			b.PrependUOffsetT(partOffs[i])
		}
		partsOff = b.EndVector(len(partOffs))
	}
	b.StartObject(8)
	if endsOff != 0 {
		b.PrependUOffsetTSlot(0, endsOff, 0)
	}
	if xyOff != 0 {
		b.PrependUOffsetTSlot(1, xyOff, 0)
	}
	if zOff != 0 {
		b.PrependUOffsetTSlot(2, zOff, 0)
	}
	if mOff != 0 {
		b.PrependUOffsetTSlot(3, mOff, 0)
	}
	if typed {
		b.PrependUint8Slot(6, fgbGeomType(g.Type()), 0)
	}
	if partsOff != 0 {
		b.PrependUOffsetTSlot(7, partsOff, 0)
	}
	return b.EndObject(), nil
}

// write writes one feature whose values already have the fields' types.
func (fw *fgbWriter) write(f *Feature) error {
	b := fw.b
	b.Reset()
	p := fw.props[:0]
	le := binary.LittleEndian
	for i, fd := range fw.fields {
		v, _ := f.Props.Get(fd.Name)
		if v == nil {
			continue
		}
		p = le.AppendUint16(p, uint16(i))
		switch fd.Type {
		case FieldInteger:
			p = le.AppendUint64(p, uint64(v.(int64)))
		case FieldReal:
			p = le.AppendUint64(p, math.Float64bits(v.(float64)))
		case FieldBoolean:
			if v.(bool) {
				p = append(p, 1)
			} else {
				p = append(p, 0)
			}
		case FieldBinary:
			bs := v.([]byte)
			p = le.AppendUint32(p, uint32(len(bs)))
			p = append(p, bs...)
		case FieldJSON:
			j, err := feature.AppendValue(fw.jsonBuf[:0], v)
			if err != nil {
				return fmt.Errorf("attribute %q: %v", fd.Name, err)
			}
			fw.jsonBuf = j
			p = le.AppendUint32(p, uint32(len(j)))
			p = append(p, j...)
		default:
			s := textOf(v)
			p = le.AppendUint32(p, uint32(len(s)))
			p = append(p, s...)
		}
	}
	fw.props = p
	var geomOff flatbuffers.UOffsetT
	if !f.Geometry.IsEmpty() {
		var err error
		if geomOff, err = fw.geometry(f.Geometry, fw.hdrType == 0); err != nil {
			return err
		}
	}
	var propsOff flatbuffers.UOffsetT
	if len(p) > 0 {
		propsOff = b.CreateByteVector(p)
	}
	b.StartObject(3)
	if geomOff != 0 {
		b.PrependUOffsetTSlot(0, geomOff, 0)
	}
	if propsOff != 0 {
		b.PrependUOffsetTSlot(1, propsOff, 0)
	}
	b.FinishSizePrefixed(b.EndObject())
	n, err := fw.w.Write(b.FinishedBytes())
	fw.last = n
	return err
}

// fgbIndexNodeSize is the node size of the packed Hilbert R-tree the
// engine writes, GDAL's default.
const fgbIndexNodeSize = 16

// fgbEntry is a feature's box and its place in the temporary file.
type fgbEntry struct {
	minx, miny, maxx, maxy float64
	off                    int64
	size                   int
}

// fgbLevelBounds returns the [start, end) node ranges of each level of a
// packed R-tree, leaves first, in the node array whose root is node 0 (as
// FlatGeobuf's reference implementation lays it out).
func fgbLevelBounds(numItems uint64, nodeSize uint64) [][2]uint64 {
	counts := []uint64{numItems}
	n, numNodes := numItems, numItems
	for {
		n = (n + nodeSize - 1) / nodeSize
		numNodes += n
		counts = append(counts, n)
		if n == 1 {
			break
		}
	}
	bounds := make([][2]uint64, len(counts))
	off := numNodes
	for i, c := range counts {
		off -= c
		bounds[i] = [2]uint64{off, off + c}
	}
	return bounds
}

// writeFGBIndex writes the packed Hilbert R-tree over entries (already in
// Hilbert order), whose features follow it with the given sizes.
func writeFGBIndex(w io.Writer, entries []fgbEntry) error {
	type node struct {
		minx, miny, maxx, maxy float64
		off                    uint64
	}
	bounds := fgbLevelBounds(uint64(len(entries)), fgbIndexNodeSize)
	levels := make([][]node, len(bounds))
	leaves := make([]node, len(entries))
	var off uint64
	for i, e := range entries {
		leaves[i] = node{e.minx, e.miny, e.maxx, e.maxy, off}
		off += uint64(e.size)
	}
	levels[0] = leaves
	for l := 1; l < len(bounds); l++ {
		child := levels[l-1]
		parents := make([]node, 0, bounds[l][1]-bounds[l][0])
		for i := 0; i < len(child); i += fgbIndexNodeSize {
			p := node{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1), bounds[l-1][0] + uint64(i)}
			for _, c := range child[i:min(i+fgbIndexNodeSize, len(child))] {
				p.minx, p.miny = min(p.minx, c.minx), min(p.miny, c.miny)
				p.maxx, p.maxy = max(p.maxx, c.maxx), max(p.maxy, c.maxy)
			}
			parents = append(parents, p)
		}
		levels[l] = parents
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf [40]byte
	le := binary.LittleEndian
	for l := len(levels) - 1; l >= 0; l-- {
		for _, nd := range levels[l] {
			le.PutUint64(buf[0:], math.Float64bits(nd.minx))
			le.PutUint64(buf[8:], math.Float64bits(nd.miny))
			le.PutUint64(buf[16:], math.Float64bits(nd.maxx))
			le.PutUint64(buf[24:], math.Float64bits(nd.maxy))
			le.PutUint64(buf[32:], nd.off)
			if _, err := bw.Write(buf[:]); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
