package crs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:generate go run ./internal/gen -db /usr/share/proj/proj.db -o projdb.tsv.gz

// projdb is the table generated from PROJ's database (see internal/gen for
// its format).
//
//go:embed projdb.tsv.gz
var projdb []byte

// Identifiers outside the EPSG range: ESRI codes are interned at esriBase
// plus their code, definitions from WKT or PROJ strings from customBase up.
const (
	esriBase   = 1_000_000
	customBase = 3_000_000
)

type ellipsoidDef struct {
	code, name string
	a, invf    float64
}

type pmDef struct {
	code, name string
	lon        float64 // degrees east of Greenwich
}

type datumDef struct {
	code, name string
	ell        *ellipsoidDef
	pm         *pmDef
}

type geogDef struct {
	ref, name  string
	datum      *datumDef
	unit       float64 // radians per axis unit
	swap       bool    // latitude first
	area       [4]float64
	deprecated bool
	is3D       bool
}

type projDef struct {
	ref, name, geog, method string
	unit                    float64 // metres per axis unit
	unitName, unitCode      string
	axes                    string // orientation of the two axes: e, n, w, s, o(ther)
	area                    [4]float64
	deprecated              bool
	params                  map[int]float64 // filled by withParams
	rawParams               string          // "code=value,..." as in the table
}

// withParams returns a copy of the definition with its parameters
// parsed; the table keeps them as text, which holds thousands of
// definitions in a fraction of the memory.
func (p *projDef) withParams() (*projDef, error) {
	q := *p
	q.params = map[int]float64{}
	if p.rawParams == "" {
		return &q, nil
	}
	for _, kv := range strings.Split(p.rawParams, ",") {
		k, v, _ := strings.Cut(kv, "=")
		code, err1 := strconv.Atoi(k)
		f, err2 := strconv.ParseFloat(v, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("crs: bad parameter %q of %s in the embedded PROJ table", kv, p.ref)
		}
		q.params[code] = f
	}
	return &q, nil
}

type opKind byte

const (
	opHelmert opKind = 'h'
	opLonRot  opKind = 'l'
	opOffset  opKind = 'o'
	opGrid    opKind = 'g'
	opConcat  opKind = 'c'
	// opGeocentric is a Helmert between geocentric CRSs: a step of
	// concatenated operations, not a candidate of its own.
	opGeocentric opKind = 'H'
	// opGridReversed is an NTv2 grid whose file shifts the other way.
	opGridReversed opKind = 'G'
)

// opDef is a transformation between two geographic CRSs from the table.
type opDef struct {
	ref, name, src, tgt string
	accuracy            float64 // metres, -1 unknown
	kind                opKind
	helmert             [10]float64 // tx ty tz (m), rx ry rz (arc-seconds, position vector), ds (ppm), px py pz (m); offsets: dlat dlon (arc-seconds)
	grids               []string    // file names PROJ looks for, in order; steps of a concatenation
	area                [4]float64  // west, south, east, north (degrees)
	supersededBy        []string
	offshore            bool // its area of use is offshore, which PROJ avoids when it can
}

type registry struct {
	projVersion, epsgVersion string
	ellipsoids               map[string]*ellipsoidDef
	pms                      map[string]*pmDef
	datums                   map[string]*datumDef
	geogs                    map[string]*geogDef
	projLines                map[string]string   // R records by reference
	ops                      map[string][]*opDef // by source and by target CRS
	opByRef                  map[string]*opDef
	opsByDatum               map[string][]*opDef
	wkts, wktNames           map[string]string // ESRI CRSs defined by WKT
	// names maps a record kind ("E", "D", "G", "R") and a normalized name
	// or alias (see normName) to the record's reference.
	names     map[string]map[string]string
	namesOnce sync.Once
	aliases   []string // the A records, until indexNames
}

// normName reduces a name for matching the spellings of WKT dialects:
// lower case, letters and digits only, without ESRI's "D_" and "GCS_"
// prefixes and the "ensemble" suffix of datum ensembles.
func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"d_", "gcs_"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimSuffix(s, " ensemble")
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// addName records a name or alias; a primary name is not overridden by
// an alias, and of two the lower EPSG code wins.
func (r *registry) addName(kind, name, ref string, primary bool) {
	m := r.names[kind]
	if m == nil {
		m = map[string]string{}
		r.names[kind] = m
	}
	k := normName(name)
	if primary && strings.HasPrefix(ref, "EPSG:") {
		k = "\x00" + k
	}
	if old, ok := m[k]; !ok || refLess(ref, old) {
		m[k] = ref
	}
}

// indexNames builds the name index the first time a definition is
// identified by name, which plain EPSG codes never need.
func (r *registry) indexNames() {
	for ref, e := range r.ellipsoids {
		r.addName("E", e.name, ref, true)
	}
	for ref, d := range r.datums {
		r.addName("D", d.name, ref, true)
	}
	for ref, g := range r.geogs {
		if !g.deprecated && !g.is3D {
			r.addName("G", g.name, ref, true)
		}
	}
	r.eachProj(func(ref string, p *projDef) {
		if !p.deprecated {
			r.addName("R", p.name, ref, true)
		}
	})
	for _, line := range r.aliases {
		a := strings.Split(line, "\t")
		if g, ok := r.geogs[a[2]]; a[1] == "G" && (!ok || g.deprecated || g.is3D) {
			continue
		}
		if p, ok := r.proj(a[2]); a[1] == "R" && (!ok || p.deprecated) {
			continue
		}
		r.addName(a[1], a[3], a[2], false)
	}
	r.aliases = nil
}

// lookupName returns the reference of a name: a primary name first, then
// an alias.
func (r *registry) lookupName(kind, name string) (string, bool) {
	r.namesOnce.Do(r.indexNames)
	k := normName(name)
	if ref, ok := r.names[kind]["\x00"+k]; ok {
		return ref, true
	}
	ref, ok := r.names[kind][k]
	return ref, ok
}

// refLess prefers EPSG to ESRI and lower codes, so a name shared by a
// current and a deprecated definition finds the older, usual one first.
func refLess(a, b string) bool {
	ea, eb := strings.HasPrefix(a, "EPSG:"), strings.HasPrefix(b, "EPSG:")
	if ea != eb {
		return ea
	}
	na, _ := strconv.Atoi(a[strings.IndexByte(a, ':')+1:])
	nb, _ := strconv.Atoi(b[strings.IndexByte(b, ':')+1:])
	return na < nb
}

var (
	regOnce sync.Once
	reg     *registry
	regErr  error
)

func db() (*registry, error) {
	regOnce.Do(func() { reg, regErr = loadRegistry() })
	return reg, regErr
}

func loadRegistry() (*registry, error) {
	zr, err := gzip.NewReader(bytes.NewReader(projdb))
	if err != nil {
		return nil, fmt.Errorf("crs: reading the embedded PROJ table: %w", err)
	}
	r := &registry{
		ellipsoids: map[string]*ellipsoidDef{}, pms: map[string]*pmDef{}, datums: map[string]*datumDef{},
		geogs: map[string]*geogDef{}, projLines: map[string]string{}, ops: map[string][]*opDef{},
		names: map[string]map[string]string{}, opByRef: map[string]*opDef{}, opsByDatum: map[string][]*opDef{},
		wkts: map[string]string{}, wktNames: map[string]string{},
	}
	var aliases []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var bad error
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("crs: bad number %q in the embedded PROJ table", s)
		}
		return v
	}
	area := func(f []string) [4]float64 { return [4]float64{num(f[0]), num(f[1]), num(f[2]), num(f[3])} }
	// Datums and geographic CRSs are linked once everything is read.
	var pendingDatums, pendingGeogs [][]string
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch f[0] {
		case "A":
			aliases = append(aliases, sc.Text())
		case "V":
			r.projVersion, r.epsgVersion = f[1], f[2]
		case "E":
			r.ellipsoids[f[1]] = &ellipsoidDef{code: f[1], name: f[2], a: num(f[3]), invf: num(f[4])}
		case "P":
			r.pms[f[1]] = &pmDef{code: f[1], name: f[2], lon: num(f[3])}
		case "D":
			pendingDatums = append(pendingDatums, f)
		case "G":
			pendingGeogs = append(pendingGeogs, f)
		case "R":
			// Kept as text and parsed on use (see proj): thousands of
			// definitions of which a run uses a few.
			r.projLines[f[1]] = sc.Text()
		case "W":
			r.wkts[f[1]] = f[4]
			r.wktNames[f[1]] = f[2]
		case "T":
			o := &opDef{ref: f[1], name: f[2], src: f[3], tgt: f[4], accuracy: num(f[5]), kind: opKind(f[6][0]), area: area(f[8:12])}
			switch o.kind {
			case opHelmert, opOffset, opGeocentric:
				for i, s := range strings.Fields(f[7]) {
					o.helmert[i] = num(s)
				}
			case opLonRot:
				o.helmert[0] = num(f[7])
			case opGrid, opGridReversed, opConcat:
				o.grids = strings.Fields(f[7])
			}
			if f[12] != "-" {
				o.supersededBy = strings.Split(f[12], ",")
			}
			o.offshore = len(f) > 13 && f[13] == "1"
			r.ops[o.src] = append(r.ops[o.src], o)
			r.ops[o.tgt] = append(r.ops[o.tgt], o)
			r.opByRef[o.ref] = o
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("crs: reading the embedded PROJ table: %w", err)
	}
	r.linkDatums(pendingDatums)
	for _, f := range pendingGeogs {
		if d := r.datums[f[3]]; d != nil {
			r.geogs[f[1]] = &geogDef{ref: f[1], name: f[2], datum: d, unit: exactDegree(num(f[4])), swap: f[5] == "1", area: area(f[6:10]),
				deprecated: f[10] == "1", is3D: len(f) > 11 && f[11] == "1"}
		}
	}
	if bad != nil {
		return nil, bad
	}
	for _, o := range r.opByRef {
		sd, td := r.datumOf(o.src), r.datumOf(o.tgt)
		if sd == "" || td == "" || sd == td || o.kind == opGeocentric {
			continue
		}
		r.opsByDatum[sd] = append(r.opsByDatum[sd], o)
		r.opsByDatum[td] = append(r.opsByDatum[td], o)
	}
	for _, l := range r.opsByDatum {
		sort.Slice(l, func(i, j int) bool { return l[i].ref < l[j].ref })
	}
	r.aliases = aliases
	return r, nil
}

// exactDegree replaces proj.db's rounded radians per degree by π/180, as
// PROJ's own unit conversion uses it (it decides which side of the
// antimeridian 540° falls on).
func exactDegree(u float64) float64 {
	if math.Abs(u-math.Pi/180) < 1e-15 {
		return math.Pi / 180
	}
	return u
}

// proj parses the projected CRS record of a reference.
func (r *registry) proj(ref string) (*projDef, bool) {
	line, ok := r.projLines[ref]
	if !ok {
		return nil, false
	}
	f := strings.Split(line, "\t")
	if len(f) < 14 {
		return nil, false
	}
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	p := &projDef{ref: f[1], name: f[2], geog: f[3], method: f[4], unit: num(f[5]), unitName: f[6], unitCode: f[7], axes: f[8],
		area: [4]float64{num(f[9]), num(f[10]), num(f[11]), num(f[12])}, deprecated: f[13] == "1"}
	if len(f) > 14 {
		p.rawParams = f[14]
	}
	return p, true
}

// eachProj calls fn with every projected CRS record.
func (r *registry) eachProj(fn func(ref string, p *projDef)) {
	for ref := range r.projLines {
		if p, ok := r.proj(ref); ok {
			fn(ref, p)
		}
	}
}

func (r *registry) linkDatums(lines [][]string) {
	for _, f := range lines {
		e, p := r.ellipsoids[f[3]], r.pms[f[4]]
		if e == nil || p == nil {
			continue
		}
		r.datums[f[1]] = &datumDef{code: f[1], name: f[2], ell: e, pm: p}
	}
}

// refOf returns the authority reference ("EPSG:2056", "ESRI:102100") of
// an identifier, or "" for an interned custom definition.
func refOf(id int) string {
	switch {
	case id > 0 && id < esriBase:
		return "EPSG:" + strconv.Itoa(id)
	case id > esriBase && id < customBase:
		return "ESRI:" + strconv.Itoa(id-esriBase)
	}
	return ""
}

// idOf is the inverse of refOf.
func idOf(ref string) (int, bool) {
	auth, code, ok := strings.Cut(ref, ":")
	n, err := strconv.Atoi(code)
	if !ok || err != nil || n <= 0 {
		return 0, false
	}
	switch auth {
	case "EPSG":
		if n < esriBase {
			return n, true
		}
	case "ESRI":
		if n < customBase-esriBase {
			return esriBase + n, true
		}
	}
	return 0, false
}

// Count returns the number of projected and geographic CRSs the embedded
// table defines (EPSG and ESRI).
func Count() (projected, geographic int) {
	r, err := db()
	if err != nil {
		return 0, 0
	}
	return len(r.projLines) + len(r.wkts), len(r.geogs)
}
