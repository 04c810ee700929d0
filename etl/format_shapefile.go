package etl

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/geoetl/geoetl/etl/feature"
	"github.com/peterstace/simplefeatures/geom"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// Shapefiles are read and written here rather than through a library: the
// Go shapefile packages are unmaintained and none honours .cpg code pages
// or widens DBF fields from the data, and the format is small.

// shpNoData is the ESRI "no data" limit for M values: anything below it
// is not a measure.
const shpNoData = -1e38

// shapefileParts holds the member files of one shapefile: the .shp and
// .dbf are streamed (both are read front to back), .prj and .cpg are small.
type shapefileParts struct {
	name     string // for messages
	shp, dbf io.ReadCloser
	prj      []byte
	cpg      string
	closers  []io.Closer
}

func (sp *shapefileParts) Close() {
	for _, c := range sp.closers {
		c.Close()
	}
}

// openShapefileParts gathers a shapefile's members from the data folder
// (a .shp beside its .dbf, .prj, .cpg) or, through openZip, from a .zip
// holding exactly one.
func openShapefileParts(open func(string) (io.ReadCloser, error), p string) (*shapefileParts, error) {
	base := strings.TrimSuffix(p, path.Ext(p))
	sp := &shapefileParts{name: p}
	member := func(ext string, required bool) (io.ReadCloser, error) {
		for _, e := range []string{ext, strings.ToUpper(ext)} {
			rc, err := open(base + e)
			if err != nil {
				continue
			}
			sp.closers = append(sp.closers, rc)
			return rc, nil
		}
		if required {
			return nil, fmt.Errorf("shapefile %s: %s%s is missing", p, path.Base(base), ext)
		}
		return nil, nil
	}
	if err := sp.fill(member); err != nil {
		sp.Close()
		return nil, err
	}
	return sp, nil
}

func (sp *shapefileParts) fill(member func(ext string, required bool) (io.ReadCloser, error)) error {
	var err error
	if sp.shp, err = member(".shp", true); err != nil {
		return err
	}
	if sp.dbf, err = member(".dbf", false); err != nil {
		return err
	}
	small := func(ext string) ([]byte, error) {
		rc, err := member(ext, false)
		if rc == nil || err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", sp.name, ext, err)
		}
		return b, nil
	}
	if sp.prj, err = small(".prj"); err != nil {
		return err
	}
	cpg, err := small(".cpg")
	if err != nil {
		return err
	}
	sp.cpg = strings.TrimSpace(string(cpg))
	return nil
}

// openZippedShapefile reads the shapefile inside a zip file.
func openZippedShapefile(name string, ra io.ReaderAt, size int64) (*shapefileParts, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable zip file: %v", name, err)
	}
	var shps []string
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		byName[strings.ToLower(f.Name)] = f
		if strings.EqualFold(path.Ext(f.Name), ".shp") && !strings.HasPrefix(path.Base(f.Name), ".") && !strings.Contains(f.Name, "__MACOSX") {
			shps = append(shps, f.Name)
		}
	}
	switch len(shps) {
	case 0:
		return nil, fmt.Errorf("%s holds no .shp file", name)
	case 1:
	default:
		return nil, fmt.Errorf("%s holds %d shapefiles (%s); zip one per file", name, len(shps), strings.Join(shps, ", "))
	}
	base := strings.ToLower(strings.TrimSuffix(shps[0], path.Ext(shps[0])))
	sp := &shapefileParts{name: name + "!" + shps[0]}
	member := func(ext string, required bool) (io.ReadCloser, error) {
		f := byName[base+ext]
		if f == nil {
			if required {
				return nil, fmt.Errorf("%s: %s%s is missing", name, base, ext)
			}
			return nil, nil
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", name, f.Name, err)
		}
		sp.closers = append(sp.closers, rc)
		return rc, nil
	}
	if err := sp.fill(member); err != nil {
		sp.Close()
		return nil, err
	}
	return sp, nil
}

// dbfEncoding returns the decoder for a DBF's text: from the .cpg when
// there is one, else from the language driver byte, else ISO-8859-1 as
// GDAL assumes. A code page we do not know fails rather than garbling.
func dbfEncoding(cpg string, ldid byte) (encoding.Encoding, string, error) {
	if cpg != "" {
		c := strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(cpg, "-", ""), "_", ""))
		c = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(c, "WINDOWS"), "CP"), "ANSI")
		switch c {
		case "UTF8", "65001":
			return nil, "UTF-8", nil
		case "1250":
			return charmap.Windows1250, "windows-1250", nil
		case "1251":
			return charmap.Windows1251, "windows-1251", nil
		case "1252":
			return charmap.Windows1252, "windows-1252", nil
		case "1253":
			return charmap.Windows1253, "windows-1253", nil
		case "1254":
			return charmap.Windows1254, "windows-1254", nil
		case "1255":
			return charmap.Windows1255, "windows-1255", nil
		case "1256":
			return charmap.Windows1256, "windows-1256", nil
		case "1257":
			return charmap.Windows1257, "windows-1257", nil
		case "1258":
			return charmap.Windows1258, "windows-1258", nil
		case "88591", "ISO88591", "LATIN1", "28591":
			return charmap.ISO8859_1, "ISO-8859-1", nil
		case "88592", "ISO88592", "28592":
			return charmap.ISO8859_2, "ISO-8859-2", nil
		case "88595", "ISO88595", "28595":
			return charmap.ISO8859_5, "ISO-8859-5", nil
		case "88597", "ISO88597", "28597":
			return charmap.ISO8859_7, "ISO-8859-7", nil
		case "885915", "ISO885915", "28605":
			return charmap.ISO8859_15, "ISO-8859-15", nil
		case "437":
			return charmap.CodePage437, "CP437", nil
		case "850":
			return charmap.CodePage850, "CP850", nil
		case "852":
			return charmap.CodePage852, "CP852", nil
		case "866":
			return charmap.CodePage866, "CP866", nil
		case "KOI8R", "20866":
			return charmap.KOI8R, "KOI8-R", nil
		}
		return nil, "", fmt.Errorf("code page %q of the .cpg file is not supported", cpg)
	}
	// Language driver ids as GDAL's shapefile driver maps them.
	switch ldid {
	case 0:
		return charmap.ISO8859_1, "ISO-8859-1", nil
	case 0x01:
		return charmap.CodePage437, "CP437", nil
	case 0x02, 0x37, 0x64:
		return charmap.CodePage850, "CP850", nil
	case 0x03, 0x57, 0x58, 0x59:
		return charmap.Windows1252, "windows-1252", nil
	case 0x26, 0x65:
		return charmap.CodePage866, "CP866", nil
	case 0xC8:
		return charmap.Windows1250, "windows-1250", nil
	case 0xC9:
		return charmap.Windows1251, "windows-1251", nil
	case 0xCA:
		return charmap.Windows1254, "windows-1254", nil
	case 0xCB:
		return charmap.Windows1253, "windows-1253", nil
	case 0xCC:
		return charmap.Windows1257, "windows-1257", nil
	}
	return nil, "", fmt.Errorf("DBF language driver 0x%02X is not supported; add a .cpg file naming the code page", ldid)
}

type dbfField struct {
	name     string
	typ      byte
	length   int
	decimals int
	offset   int
}

type dbfReader struct {
	rd      *bufio.Reader
	fields  []dbfField
	n       int
	recLen  int
	rec     []byte
	dec     *encoding.Decoder
	encName string
}

func newDBFReader(rd io.Reader, cpg string) (*dbfReader, error) {
	br := bufio.NewReaderSize(rd, 1<<20)
	head := make([]byte, 32)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, errors.New("the .dbf file is truncated")
	}
	r := &dbfReader{rd: br,
		n:      int(binary.LittleEndian.Uint32(head[4:])),
		recLen: int(binary.LittleEndian.Uint16(head[10:]))}
	hdrLen := int(binary.LittleEndian.Uint16(head[8:]))
	if hdrLen < 33 {
		return nil, errors.New("the .dbf header is too short")
	}
	rest := make([]byte, hdrLen-32)
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, errors.New("the .dbf header is truncated")
	}
	enc, name, err := dbfEncoding(cpg, head[29])
	if err != nil {
		return nil, err
	}
	if enc != nil {
		r.dec = enc.NewDecoder()
	}
	r.encName = name
	off := 1
	for p := 0; p+32 <= len(rest) && rest[p] != 0x0D; p += 32 {
		d := rest[p : p+32]
		raw := d[:11]
		if i := bytes.IndexByte(raw, 0); i >= 0 {
			raw = raw[:i]
		}
		name, err := r.text(raw)
		if err != nil {
			return nil, fmt.Errorf("field name %q: %v", raw, err)
		}
		f := dbfField{name: strings.TrimSpace(name), typ: d[11], length: int(d[16]), decimals: int(d[17]), offset: off}
		if f.typ == 'C' {
			// Long text fields use the decimal count as the high byte.
			f.length = int(d[16]) | int(d[17])<<8
			f.decimals = 0
		}
		off += f.length
		r.fields = append(r.fields, f)
	}
	if off > r.recLen {
		return nil, fmt.Errorf("the .dbf fields need %d bytes per record, the header says %d", off, r.recLen)
	}
	r.rec = make([]byte, r.recLen)
	return r, nil
}

func (r *dbfReader) text(b []byte) (string, error) {
	if r.dec == nil {
		if !utf8.Valid(b) {
			return "", errors.New("is not valid UTF-8 although the .cpg says UTF-8")
		}
		return string(b), nil
	}
	out, err := r.dec.Bytes(b)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// next returns the next record's deletion mark and attributes.
func (r *dbfReader) next() (bool, Properties, error) {
	if _, err := io.ReadFull(r.rd, r.rec); err != nil {
		return false, nil, errors.New("the .dbf file is truncated")
	}
	rec := r.rec
	props := make(Properties, 0, len(r.fields))
	for _, f := range r.fields {
		raw := rec[f.offset : f.offset+f.length]
		v, err := r.value(f, raw)
		if err != nil {
			return false, nil, fmt.Errorf("field %q: %v", f.name, err)
		}
		props = append(props, Property{Key: f.name, Value: v})
	}
	return rec[0] == '*', props, nil
}

func (r *dbfReader) value(f dbfField, raw []byte) (any, error) {
	switch f.typ {
	case 'C':
		s := bytes.TrimRight(raw, " \x00")
		if len(s) == 0 {
			// GDAL (shapelib) reads an empty text field as null.
			return nil, nil
		}
		return r.text(s)
	case 'N', 'F':
		s := strings.TrimSpace(string(bytes.TrimRight(raw, "\x00")))
		if s == "" || strings.Trim(s, "*") == "" {
			return nil, nil
		}
		if f.decimals == 0 && f.typ == 'N' && f.length < 19 {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		}
		v, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return v, nil
	case 'L':
		switch strings.TrimSpace(string(raw)) {
		case "T", "t", "Y", "y":
			return true, nil
		case "F", "f", "N", "n":
			return false, nil
		}
		return nil, nil
	case 'D':
		s := strings.TrimSpace(string(raw))
		if s == "" || strings.Trim(s, "0") == "" {
			return nil, nil
		}
		t, err := time.Parse("20060102", s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date (YYYYMMDD)", s)
		}
		return t.Format("2006-01-02"), nil
	}
	return nil, fmt.Errorf("DBF field type %q is not supported", string(f.typ))
}

// readShapefile streams the features of a shapefile.
func readShapefile(ctx context.Context, sp *shapefileParts, crsCode int, emit func(Feature) error) error {
	shp := bufio.NewReaderSize(sp.shp, 1<<20)
	hdr := make([]byte, 100)
	if _, err := io.ReadFull(shp, hdr); err != nil || binary.BigEndian.Uint32(hdr) != 9994 {
		return fmt.Errorf("%s is not a shapefile (bad .shp header)", sp.name)
	}
	var dbf *dbfReader
	if sp.dbf != nil {
		var err error
		if dbf, err = newDBFReader(sp.dbf, sp.cpg); err != nil {
			return fmt.Errorf("%s: .dbf: %v", sp.name, err)
		}
	}
	remaining := int64(binary.BigEndian.Uint32(hdr[24:]))*2 - 100
	rec := 0
	var content []byte
	var rh [8]byte
	for remaining >= 8 {
		if rec%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := io.ReadFull(shp, rh[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break // a length in the header that overstates the file
			}
			return fmt.Errorf("%s: record %d is truncated", sp.name, rec+1)
		}
		clen := int(binary.BigEndian.Uint32(rh[4:])) * 2
		if int64(clen) > remaining {
			return fmt.Errorf("%s: record %d is longer than the file", sp.name, rec+1)
		}
		if clen > 1<<20 {
			// A large record is read through a limit, so that a corrupt
			// length cannot allocate more than the file holds.
			big, err := io.ReadAll(io.LimitReader(shp, int64(clen)))
			if err != nil || len(big) != clen {
				return fmt.Errorf("%s: record %d is truncated", sp.name, rec+1)
			}
			content = big
		} else {
			if cap(content) < clen {
				content = make([]byte, clen)
			}
			content = content[:clen]
			if _, err := io.ReadFull(shp, content); err != nil {
				return fmt.Errorf("%s: record %d is truncated", sp.name, rec+1)
			}
		}
		remaining -= int64(8 + clen)
		rec++
		g, err := decodeShape(content)
		if err != nil {
			return fmt.Errorf("%s: record %d: %v", sp.name, rec, err)
		}
		f := Feature{Geometry: g, CRS: crsCode}
		if dbf != nil {
			if rec > dbf.n {
				return fmt.Errorf("%s: the .shp has more records than the .dbf (%d)", sp.name, dbf.n)
			}
			deleted, props, err := dbf.next()
			if err != nil {
				return fmt.Errorf("%s: record %d: %v", sp.name, rec, err)
			}
			if deleted {
				continue
			}
			f.Props = props
		}
		if err := emit(f); err != nil {
			return err
		}
	}
	return nil
}

func decodeShape(b []byte) (geom.Geometry, error) {
	if len(b) < 4 {
		return geom.Geometry{}, errors.New("empty record")
	}
	st := binary.LittleEndian.Uint32(b)
	le := binary.LittleEndian
	f64 := func(off int) float64 { return math.Float64frombits(le.Uint64(b[off:])) }
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("shape of type %d is truncated", st)
		}
		return nil
	}
	hasZ := st == 11 || st == 13 || st == 15 || st == 18
	hasM := st == 21 || st == 23 || st == 25 || st == 28
	switch st {
	case 0:
		return geom.Geometry{}, nil
	case 1, 11, 21:
		if err := need(20); err != nil {
			return geom.Geometry{}, err
		}
		c := geom.Coordinates{XY: geom.XY{X: f64(4), Y: f64(12)}, Type: geom.DimXY}
		switch {
		case hasZ && len(b) >= 28:
			c.Z, c.Type = f64(20), geom.DimXYZ
			if len(b) >= 36 && f64(28) > shpNoData {
				c.M, c.Type = f64(28), geom.DimXYZM
			}
		case hasM && len(b) >= 28 && f64(20) > shpNoData:
			c.M, c.Type = f64(20), geom.DimXYM
		}
		return geom.NewPoint(c).AsGeometry(), nil
	case 8, 18, 28:
		if err := need(40); err != nil {
			return geom.Geometry{}, err
		}
		n := int(le.Uint32(b[36:]))
		if err := need(40 + 16*n); err != nil {
			return geom.Geometry{}, err
		}
		xy := b[40:]
		zs, ms := shapeExtra(b, 40+16*n, n, hasZ, hasM)
		ct := dimOf(zs != nil, ms != nil)
		pts := make([]geom.Point, n)
		for i := range n {
			c := geom.Coordinates{XY: geom.XY{X: math.Float64frombits(le.Uint64(xy[16*i:])), Y: math.Float64frombits(le.Uint64(xy[16*i+8:]))}, Type: ct}
			if zs != nil {
				c.Z = zs[i]
			}
			if ms != nil {
				c.M = ms[i]
			}
			pts[i] = geom.NewPoint(c)
		}
		return geom.NewMultiPoint(pts).AsGeometry(), nil
	case 3, 13, 23, 5, 15, 25:
		if err := need(44); err != nil {
			return geom.Geometry{}, err
		}
		nParts, nPts := int(le.Uint32(b[36:])), int(le.Uint32(b[40:]))
		ptsOff := 44 + 4*nParts
		if err := need(ptsOff + 16*nPts); err != nil {
			return geom.Geometry{}, err
		}
		zs, ms := shapeExtra(b, ptsOff+16*nPts, nPts, hasZ, hasM)
		ct := dimOf(zs != nil, ms != nil)
		stride := ct.Dimension()
		parts := make([]geom.Sequence, 0, nParts)
		for i := range nParts {
			s := int(le.Uint32(b[44+4*i:]))
			e := nPts
			if i+1 < nParts {
				e = int(le.Uint32(b[44+4*(i+1):]))
			}
			if s < 0 || e > nPts || s > e {
				return geom.Geometry{}, fmt.Errorf("part %d has bad bounds", i+1)
			}
			flat := make([]float64, 0, (e-s)*stride)
			for j := s; j < e; j++ {
				flat = append(flat, f64(ptsOff+16*j), f64(ptsOff+16*j+8))
				if zs != nil {
					flat = append(flat, zs[j])
				}
				if ms != nil {
					flat = append(flat, ms[j])
				}
			}
			parts = append(parts, geom.NewSequence(flat, ct))
		}
		if st == 3 || st == 13 || st == 23 {
			ls := make([]geom.LineString, len(parts))
			for i, p := range parts {
				ls[i] = geom.NewLineString(p)
			}
			if len(ls) == 1 {
				return ls[0].AsGeometry(), nil
			}
			return geom.NewMultiLineString(ls).AsGeometry(), nil
		}
		return assembleRings(parts, ct)
	case 31:
		return geom.Geometry{}, errors.New("MultiPatch shapes are not supported")
	}
	return geom.Geometry{}, fmt.Errorf("shape type %d is not a shapefile shape type", st)
}

func dimOf(z, m bool) geom.CoordinatesType {
	switch {
	case z && m:
		return geom.DimXYZM
	case z:
		return geom.DimXYZ
	case m:
		return geom.DimXYM
	}
	return geom.DimXY
}

// shapeExtra reads the optional Z and M arrays after the points; M values
// are dropped when the record has none or they are all "no data".
func shapeExtra(b []byte, off, n int, hasZ, hasM bool) (zs, ms []float64) {
	le := binary.LittleEndian
	read := func(at int) []float64 {
		if len(b) < at+16+8*n {
			return nil
		}
		out := make([]float64, n)
		for i := range n {
			out[i] = math.Float64frombits(le.Uint64(b[at+16+8*i:]))
		}
		return out
	}
	if hasZ {
		zs = read(off)
		if zs != nil {
			off += 16 + 8*n
		}
		ms = read(off)
	} else if hasM {
		ms = read(off)
	}
	if ms != nil {
		any := false
		for _, m := range ms {
			if m > shpNoData {
				any = true
			}
		}
		if !any {
			ms = nil
		}
	}
	return zs, ms
}

// assembleRings turns shapefile rings into a polygon or multipolygon:
// clockwise rings are shells, the others holes of the smallest shell that
// contains them (a hole without one becomes a shell, as GDAL does).
func assembleRings(rings []geom.Sequence, ct geom.CoordinatesType) (geom.Geometry, error) {
	type shell struct {
		ring  geom.LineString
		holes []geom.LineString
		env   geom.Envelope
		area  float64
	}
	var shells []*shell
	var holes []geom.LineString
	for _, r := range rings {
		if r.Length() == 0 {
			continue
		}
		ls := geom.NewLineString(r)
		a := signedArea(r)
		if a <= 0 { // clockwise (or degenerate): a shell
			shells = append(shells, &shell{ring: ls, env: ls.Envelope(), area: -a})
		} else {
			holes = append(holes, ls)
		}
	}
	for _, h := range holes {
		var best *shell
		hp := h.StartPoint()
		hxy, _ := hp.XY()
		for _, s := range shells {
			if !s.env.Covers(h.Envelope()) {
				continue
			}
			if !pointInRing(hxy, s.ring.Coordinates()) {
				continue
			}
			if best == nil || s.area < best.area {
				best = s
			}
		}
		if best == nil {
			shells = append(shells, &shell{ring: h, env: h.Envelope()})
			continue
		}
		best.holes = append(best.holes, h)
	}
	polys := make([]geom.Polygon, len(shells))
	for i, s := range shells {
		polys[i] = geom.NewPolygon(append([]geom.LineString{s.ring}, s.holes...))
	}
	switch len(polys) {
	case 0:
		return geom.Polygon{}.ForceCoordinatesType(ct).AsGeometry(), nil
	case 1:
		return polys[0].AsGeometry(), nil
	}
	return geom.NewMultiPolygon(polys).AsGeometry(), nil
}

// signedArea is positive for counter-clockwise rings.
func signedArea(s geom.Sequence) float64 {
	n := s.Length()
	a := 0.0
	for i := 0; i+1 < n; i++ {
		p, q := s.GetXY(i), s.GetXY(i+1)
		a += p.X*q.Y - q.X*p.Y
	}
	return a / 2
}

func pointInRing(p geom.XY, s geom.Sequence) bool {
	in := false
	n := s.Length()
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := s.GetXY(i), s.GetXY(j)
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < (b.X-a.X)*(p.Y-a.Y)/(b.Y-a.Y)+a.X {
			in = !in
		}
	}
	return in
}

// ---- writing ----

// shpTypeOf maps a geometry to its shapefile shape type family (1 point,
// 3 line, 5 polygon, 8 multipoint) and dimensions.
func shpTypeOf(g geom.Geometry) (int, error) {
	switch g.Type() {
	case geom.TypePoint:
		return 1, nil
	case geom.TypeLineString, geom.TypeMultiLineString:
		return 3, nil
	case geom.TypePolygon, geom.TypeMultiPolygon:
		return 5, nil
	case geom.TypeMultiPoint:
		return 8, nil
	}
	return 0, fmt.Errorf("a %s cannot be written to a shapefile", g.Type())
}

func shpFamilyName(t int) string {
	switch t {
	case 1:
		return "points"
	case 3:
		return "lines"
	case 5:
		return "polygons"
	case 8:
		return "multipoints"
	}
	return "?"
}

// shpWriter writes the .shp and .shx of one shapefile.
type shpWriter struct {
	shp, shx   *bufio.Writer
	family     int
	ct         geom.CoordinatesType
	typeCode   uint32
	n          int
	offsetW    int // current .shp length in 16-bit words
	env        [8]float64
	envSet     bool
	buf        []byte
	zmin, zmax float64
	mmin, mmax float64
}

func newShpWriter(shp, shx io.Writer, family int, ct geom.CoordinatesType) *shpWriter {
	w := &shpWriter{shp: bufio.NewWriterSize(shp, 1<<20), shx: bufio.NewWriterSize(shx, 1<<16), family: family, ct: ct, offsetW: 50}
	code := family
	switch ct {
	case geom.DimXYZ, geom.DimXYZM:
		code += 10
	case geom.DimXYM:
		code += 20
	}
	w.typeCode = uint32(code)
	w.zmin, w.zmax, w.mmin, w.mmax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	// Headers are written with zero lengths and patched at the end.
	hdr := make([]byte, 100)
	w.shp.Write(hdr)
	w.shx.Write(hdr)
	return w
}

func (w *shpWriter) write(g geom.Geometry) error {
	le := binary.LittleEndian
	b := w.buf[:0]
	put32 := func(v uint32) { b = le.AppendUint32(b, v) }
	putF := func(v float64) { b = le.AppendUint64(b, math.Float64bits(v)) }
	if g.IsEmpty() {
		put32(0)
	} else {
		ct := g.CoordinatesType()
		if ct != w.ct {
			return fmt.Errorf("has %s coordinates but the shapefile holds %s; shapefiles hold one coordinate dimension", dimName(ct), dimName(w.ct))
		}
		put32(w.typeCode)
		hasZ, hasM := ct.Is3D(), ct.IsMeasured()
		var seqs []geom.Sequence
		switch g.Type() {
		case geom.TypePoint:
			c, _ := g.MustAsPoint().Coordinates()
			w.extend(c.XY, c.XY)
			putF(c.X)
			putF(c.Y)
			if hasZ {
				putF(c.Z)
				w.zmin, w.zmax = min(w.zmin, c.Z), max(w.zmax, c.Z)
				if !hasM {
					putF(shpNoData * 10)
				}
			}
			if hasM {
				putF(c.M)
				w.mmin, w.mmax = min(w.mmin, c.M), max(w.mmax, c.M)
			}
			goto done
		case geom.TypeMultiPoint:
			mp := g.MustAsMultiPoint()
			seqs = []geom.Sequence{mp.Coordinates()}
		case geom.TypeLineString:
			seqs = []geom.Sequence{g.MustAsLineString().Coordinates()}
		case geom.TypeMultiLineString:
			mls := g.MustAsMultiLineString()
			for i := range mls.NumLineStrings() {
				if l := mls.LineStringN(i); !l.IsEmpty() {
					seqs = append(seqs, l.Coordinates())
				}
			}
		case geom.TypePolygon:
			seqs = polygonRings(g.MustAsPolygon(), seqs)
		case geom.TypeMultiPolygon:
			mp := g.MustAsMultiPolygon()
			for i := range mp.NumPolygons() {
				seqs = polygonRings(mp.PolygonN(i), seqs)
			}
		}
		env := g.Envelope()
		lo, _ := env.Min().XY()
		hi, _ := env.Max().XY()
		w.extend(lo, hi)
		putF(lo.X)
		putF(lo.Y)
		putF(hi.X)
		putF(hi.Y)
		total := 0
		for _, s := range seqs {
			total += s.Length()
		}
		if w.family != 8 {
			put32(uint32(len(seqs)))
		}
		put32(uint32(total))
		if w.family != 8 {
			start := 0
			for _, s := range seqs {
				put32(uint32(start))
				start += s.Length()
			}
		}
		for _, s := range seqs {
			for i := range s.Length() {
				xy := s.GetXY(i)
				putF(xy.X)
				putF(xy.Y)
			}
		}
		extra := func(get func(geom.Coordinates) float64, lo, hi *float64) {
			mn, mx := math.Inf(1), math.Inf(-1)
			for _, s := range seqs {
				for i := range s.Length() {
					v := get(s.Get(i))
					mn, mx = min(mn, v), max(mx, v)
				}
			}
			putF(mn)
			putF(mx)
			for _, s := range seqs {
				for i := range s.Length() {
					putF(get(s.Get(i)))
				}
			}
			*lo, *hi = min(*lo, mn), max(*hi, mx)
		}
		if hasZ {
			extra(func(c geom.Coordinates) float64 { return c.Z }, &w.zmin, &w.zmax)
		}
		if hasM {
			extra(func(c geom.Coordinates) float64 { return c.M }, &w.mmin, &w.mmax)
		}
	}
done:
	w.n++
	words := len(b) / 2
	var rh [8]byte
	binary.BigEndian.PutUint32(rh[:], uint32(w.n))
	binary.BigEndian.PutUint32(rh[4:], uint32(words))
	var xr [8]byte
	binary.BigEndian.PutUint32(xr[:], uint32(w.offsetW))
	binary.BigEndian.PutUint32(xr[4:], uint32(words))
	w.shx.Write(xr[:])
	w.shp.Write(rh[:])
	if _, err := w.shp.Write(b); err != nil {
		return err
	}
	w.offsetW += 4 + words
	if w.offsetW > math.MaxInt32 {
		return errors.New("the .shp would exceed the format's 4 GB limit")
	}
	w.buf = b
	return nil
}

func dimName(ct geom.CoordinatesType) string {
	switch ct {
	case geom.DimXYZ:
		return "XYZ"
	case geom.DimXYM:
		return "XYM"
	case geom.DimXYZM:
		return "XYZM"
	}
	return "XY"
}

// polygonRings appends a polygon's rings oriented as shapefiles need them:
// shells clockwise, holes counter-clockwise.
func polygonRings(p geom.Polygon, out []geom.Sequence) []geom.Sequence {
	for i, s := range p.Coordinates() {
		ccw := signedArea(s) > 0
		if (i == 0) == ccw {
			s = s.Reverse()
		}
		out = append(out, s)
	}
	return out
}

func (w *shpWriter) extend(lo, hi geom.XY) {
	if !w.envSet {
		w.env = [8]float64{lo.X, lo.Y, hi.X, hi.Y}
		w.envSet = true
		return
	}
	w.env[0], w.env[1] = min(w.env[0], lo.X), min(w.env[1], lo.Y)
	w.env[2], w.env[3] = max(w.env[2], hi.X), max(w.env[3], hi.Y)
}

// finish flushes and patches the headers (files must be seekable).
func (w *shpWriter) finish(shp, shx io.WriterAt) error {
	if err := w.shp.Flush(); err != nil {
		return err
	}
	if err := w.shx.Flush(); err != nil {
		return err
	}
	hdr := func(words int) []byte {
		h := make([]byte, 100)
		binary.BigEndian.PutUint32(h, 9994)
		binary.BigEndian.PutUint32(h[24:], uint32(words))
		binary.LittleEndian.PutUint32(h[28:], 1000)
		binary.LittleEndian.PutUint32(h[32:], w.typeCode)
		env := w.env
		if w.ct.Is3D() && w.zmin <= w.zmax {
			env[4], env[5] = w.zmin, w.zmax
		}
		if w.ct.IsMeasured() && w.mmin <= w.mmax {
			env[6], env[7] = w.mmin, w.mmax
		}
		for i, v := range env {
			binary.LittleEndian.PutUint64(h[36+8*i:], math.Float64bits(v))
		}
		return h
	}
	if _, err := shp.WriteAt(hdr(w.offsetW), 0); err != nil {
		return err
	}
	_, err := shx.WriteAt(hdr(50+4*w.n), 0)
	return err
}

// dbfColumn is one output DBF field.
type dbfColumn struct {
	src      Field
	name     string
	typ      byte
	length   int
	decimals int
}

// launderDBFNames shortens field names to the DBF's 10 bytes the way GDAL
// does (name[:10], then name[:8]+"_1".."_9", then name[:8]+"10".."99"),
// matching case-insensitively, and returns the renames made.
func launderDBFNames(fields []Field) ([]string, []string, error) {
	names := make([]string, len(fields))
	var renames []string
	used := map[string]bool{}
	trunc := func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s
	}
	for i, f := range fields {
		n := trunc(f.Name, 10)
		for k := 1; used[strings.ToUpper(n)]; k++ {
			switch {
			case k < 10:
				n = fmt.Sprintf("%s_%d", trunc(f.Name, 8), k)
			case k < 100:
				n = fmt.Sprintf("%s%02d", trunc(f.Name, 8), k)
			default:
				return nil, nil, fmt.Errorf("too many fields share the first 8 bytes of %q to give each a unique 10-byte DBF name", f.Name)
			}
		}
		used[strings.ToUpper(n)] = true
		names[i] = n
		if n != f.Name {
			renames = append(renames, fmt.Sprintf("%q -> %q", f.Name, n))
		}
	}
	return names, renames, nil
}

// dbfLayout decides the DBF columns: types from the schema, widths from
// the widest value seen (measured by the caller in widths).
func dbfLayout(fields []Field, widths map[string]int) ([]dbfColumn, []string, error) {
	names, renames, err := launderDBFNames(fields)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]dbfColumn, len(fields))
	for i, f := range fields {
		c := dbfColumn{src: f, name: names[i]}
		w := widths[f.Name]
		switch f.Type {
		case FieldInteger:
			c.typ, c.length = 'N', max(w, 9)
		case FieldReal:
			c.typ, c.length, c.decimals = 'N', 24, 15
		case FieldBoolean:
			// GDAL reads a dBASE logical field as text ("T"), and itself
			// writes booleans as one-digit integers; do as it does.
			c.typ, c.length = 'N', 1
		case FieldDate:
			c.typ, c.length = 'D', 8
		case FieldBinary:
			return nil, nil, fmt.Errorf("field %q is binary; shapefiles cannot hold binary values (leave it out with attributes.select)", f.Name)
		default:
			c.typ, c.length = 'C', max(w, 1)
			if c.length > 254 {
				return nil, nil, fmt.Errorf("field %q holds text of %d bytes; a shapefile text field holds at most 254 (write GeoPackage or FlatGeobuf instead)", f.Name, w)
			}
		}
		if c.length > 255 {
			return nil, nil, fmt.Errorf("field %q needs %d characters, more than a DBF field holds", f.Name, c.length)
		}
		cols[i] = c
	}
	return cols, renames, nil
}

// dbfCell formats one value for a DBF column (the value already has the
// column's type).
func dbfCell(c *dbfColumn, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	switch c.src.Type {
	case FieldInteger:
		return strconv.FormatInt(v.(int64), 10), nil
	case FieldReal:
		f := v.(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", nil
		}
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if len(s) > 24 {
			s = strconv.FormatFloat(f, 'e', -1, 64)
		}
		return s, nil
	case FieldBoolean:
		if v.(bool) {
			return "1", nil
		}
		return "0", nil
	case FieldDate:
		t, err := time.Parse("2006-01-02", v.(string))
		if err != nil {
			return "", err
		}
		return t.Format("20060102"), nil
	}
	return textOf(v), nil
}

// textOf is the text form of a value in a text column.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return feature.FormatValue(v)
}

func writeDBFHeader(w io.Writer, cols []dbfColumn, n int) error {
	recLen := 1
	for _, c := range cols {
		recLen += c.length
	}
	if recLen > 65535 {
		return fmt.Errorf("a DBF record would take %d bytes, more than 65535", recLen)
	}
	h := make([]byte, 32+32*len(cols)+1)
	h[0] = 0x03
	now := time.Now().UTC()
	h[1], h[2], h[3] = byte(now.Year()-1900), byte(now.Month()), byte(now.Day())
	binary.LittleEndian.PutUint32(h[4:], uint32(n))
	binary.LittleEndian.PutUint16(h[8:], uint16(len(h)))
	binary.LittleEndian.PutUint16(h[10:], uint16(recLen))
	h[29] = 0 // the code page is in the .cpg
	for i, c := range cols {
		d := h[32+32*i:]
		copy(d[:10], c.name)
		d[11] = c.typ
		if c.typ == 'C' {
			d[16], d[17] = byte(c.length), byte(c.length>>8)
		} else {
			d[16], d[17] = byte(c.length), byte(c.decimals)
		}
	}
	h[len(h)-1] = 0x0D
	_, err := w.Write(h)
	return err
}

func appendDBFRecord(dst []byte, cols []dbfColumn, cells []string) []byte {
	dst = append(dst, ' ')
	for i, c := range cols {
		s := cells[i]
		pad := c.length - len(s)
		if c.typ == 'N' {
			for range pad {
				dst = append(dst, ' ')
			}
			dst = append(dst, s...)
		} else {
			dst = append(dst, s...)
			for range pad {
				dst = append(dst, ' ')
			}
		}
	}
	return dst
}
