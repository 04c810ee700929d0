package crs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ntv2Grid is one (sub)grid of an NTv2 file, with longitudes turned to
// positive east and its cells ordered west to east, south to north.
type ntv2Grid struct {
	name        string
	south, west float64 // arc-seconds
	north, east float64
	dlat, dlon  float64 // cell size, arc-seconds
	rows, cols  int
	shift       []float32 // per node: latitude and longitude shift (arc-seconds, east positive)
	children    []*ntv2Grid
	parentName  string
}

// ntv2File is a parsed .gsb file.
type ntv2File struct {
	path string
	top  []*ntv2Grid
}

func readNTv2(path string) (*ntv2File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 11*16 || !bytes.HasPrefix(b, []byte("NUM_OREC")) {
		return nil, fmt.Errorf("%s: not an NTv2 grid", path)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bo.Uint32(b[8:]) != 11 {
		bo = binary.BigEndian
		if bo.Uint32(b[8:]) != 11 {
			return nil, fmt.Errorf("%s: not an NTv2 grid (NUM_OREC)", path)
		}
	}
	nsub := int(bo.Uint32(b[2*16+8:]))
	f := &ntv2File{path: path}
	byName := map[string]*ntv2Grid{}
	var all []*ntv2Grid
	off := 11 * 16
	f64 := func(rec int) float64 { return math.Float64frombits(bo.Uint64(b[off+rec*16+8:])) }
	for range nsub {
		if off+11*16 > len(b) {
			return nil, fmt.Errorf("%s: truncated NTv2 header", path)
		}
		g := &ntv2Grid{
			name:       strings.TrimSpace(string(b[off+8 : off+16])),
			parentName: strings.TrimSpace(string(b[off+16+8 : off+32])),
			south:      f64(4), north: f64(5),
			east: -f64(6), west: -f64(7), // NTv2 longitudes are positive west
			dlat: f64(8), dlon: f64(9),
		}
		count := int(bo.Uint32(b[off+10*16+8:]))
		g.rows = int(math.Round((g.north-g.south)/g.dlat)) + 1
		g.cols = int(math.Round((g.east-g.west)/g.dlon)) + 1
		if g.rows*g.cols != count || g.dlat <= 0 || g.dlon <= 0 {
			return nil, fmt.Errorf("%s: subgrid %s: %d nodes for %dx%d", path, g.name, count, g.rows, g.cols)
		}
		off += 11 * 16
		if off+count*16 > len(b) {
			return nil, fmt.Errorf("%s: truncated NTv2 subgrid %s", path, g.name)
		}
		g.shift = make([]float32, 2*count)
		for r := 0; r < g.rows; r++ {
			for c := 0; c < g.cols; c++ {
				// Records run east to west along each row.
				rec := b[off+(r*g.cols+c)*16:]
				i := r*g.cols + (g.cols - 1 - c)
				g.shift[2*i] = math.Float32frombits(bo.Uint32(rec))
				g.shift[2*i+1] = -math.Float32frombits(bo.Uint32(rec[4:]))
			}
		}
		off += count * 16
		byName[g.name] = g
		all = append(all, g)
	}
	for _, g := range all {
		if p, ok := byName[g.parentName]; ok && p != g && !strings.EqualFold(g.parentName, "NONE") {
			p.children = append(p.children, g)
		} else {
			f.top = append(f.top, g)
		}
	}
	return f, nil
}

func (g *ntv2Grid) contains(latS, lonS float64) bool {
	const eps = 1e-9
	return latS >= g.south-eps && latS <= g.north+eps && lonS >= g.west-eps && lonS <= g.east+eps
}

// find returns the most detailed subgrid containing the point (arc-seconds).
func (f *ntv2File) find(latS, lonS float64) *ntv2Grid {
	var hit *ntv2Grid
	for _, g := range f.top {
		if g.contains(latS, lonS) {
			hit = g
			break
		}
	}
	for hit != nil {
		next := (*ntv2Grid)(nil)
		for _, c := range hit.children {
			if c.contains(latS, lonS) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		hit = next
	}
	return hit
}

// shiftAt interpolates the shift (arc-seconds) bilinearly at a point
// (radians).
func (f *ntv2File) shiftAt(lon, lat float64) (dlat, dlon float64, ok bool) {
	latS, lonS := lat/arcsec, lon/arcsec
	g := f.find(latS, lonS)
	if g == nil {
		return 0, 0, false
	}
	fx := (lonS - g.west) / g.dlon
	fy := (latS - g.south) / g.dlat
	x, y := int(math.Floor(fx)), int(math.Floor(fy))
	if x >= g.cols-1 {
		x = g.cols - 2
	}
	if y >= g.rows-1 {
		y = g.rows - 2
	}
	if x < 0 {
		x = 0
	}
	if y < 0 {
		y = 0
	}
	if g.cols < 2 || g.rows < 2 {
		return 0, 0, false
	}
	tx, ty := fx-float64(x), fy-float64(y)
	at := func(c, r, k int) float64 { return float64(g.shift[2*(r*g.cols+c)+k]) }
	m11 := tx * ty
	m10 := tx - m11
	m01 := ty - m11
	m00 := 1 - tx - m01
	for k := range 2 {
		v := m00*at(x, y, k) + m10*at(x+1, y, k) + m01*at(x, y+1, k) + m11*at(x+1, y+1, k)
		if k == 0 {
			dlat = v
		} else {
			dlon = v
		}
	}
	return dlat, dlon, true
}

// forward applies the grid's shift (source to target datum).
func (f *ntv2File) forward(lon, lat float64) (float64, float64, bool) {
	dlat, dlon, ok := f.shiftAt(lon, lat)
	if !ok {
		return lon, lat, false
	}
	return lon + dlon*arcsec, lat + dlat*arcsec, true
}

// inverse undoes the shift by fixed-point iteration, as PROJ does.
func (f *ntv2File) inverse(lon, lat float64) (float64, float64, bool) {
	glon, glat := lon, lat
	dlat, dlon, ok := f.shiftAt(glon, glat)
	if !ok {
		return lon, lat, false
	}
	glon, glat = lon-dlon*arcsec, lat-dlat*arcsec
	for range 10 {
		dlat, dlon, ok = f.shiftAt(glon, glat)
		if !ok {
			return lon, lat, false
		}
		elon := glon + dlon*arcsec - lon
		elat := glat + dlat*arcsec - lat
		glon, glat = glon-elon, glat-elat
		if math.Abs(elon) < 1e-12 && math.Abs(elat) < 1e-12 {
			break
		}
	}
	return glon, glat, true
}

// gridDirs returns the folders PROJ searches for grids, in its order:
// the user's writable PROJ folder, PROJ_DATA (or the older PROJ_LIB),
// then the system's PROJ data folder.
func gridDirs() []string {
	var dirs []string
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		dirs = append(dirs, filepath.Join(d, "proj"))
	} else if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".local", "share", "proj"))
	}
	env := os.Getenv("PROJ_DATA")
	if env == "" {
		env = os.Getenv("PROJ_LIB")
	}
	if env != "" {
		dirs = append(dirs, filepath.SplitList(env)...)
	} else {
		dirs = append(dirs, "/usr/share/proj", "/usr/local/share/proj")
	}
	return dirs
}

var grids sync.Map // path -> *gridEntry

type gridEntry struct {
	once sync.Once
	f    *ntv2File
	err  error
}

// errGeoTIFFGrid marks a grid found only in PROJ's GeoTIFF format, which
// this package does not read.
var errGeoTIFFGrid = errors.New("GeoTIFF grids are not supported")

// findGrid looks for the first of the names PROJ would find and loads it.
// It returns the path it found (or "") and the grid, or an error when the
// file found cannot be used.
func findGrid(names []string) (string, *ntv2File, error) {
	for _, n := range names {
		for _, dir := range gridDirs() {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err != nil || st.IsDir() {
				continue
			}
			if strings.HasSuffix(strings.ToLower(n), ".tif") {
				return p, nil, errGeoTIFFGrid
			}
			e, _ := grids.LoadOrStore(p, &gridEntry{})
			ge := e.(*gridEntry)
			ge.once.Do(func() { ge.f, ge.err = readNTv2(p) })
			return p, ge.f, ge.err
		}
	}
	return "", nil, nil
}
