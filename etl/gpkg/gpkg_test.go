package gpkg

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/feature"
)

func TestBlob_RoundTripsWithTheEnvelopeTheStandardAsks(t *testing.T) {
	t.Parallel()
	for _, wkt := range []string{"POINT(1 2)", "LINESTRING Z(0 0 1,3 4 2)", "POLYGON((0 0,4 0,4 3,0 0))", "POINT EMPTY", "MULTIPOLYGON EMPTY"} {
		g, err := geom.UnmarshalWKT(wkt)
		if err != nil {
			t.Fatal(err)
		}
		b := appendBlob(nil, g, 3857)
		got, h, err := DecodeBlob(b)
		if err != nil {
			t.Fatalf("%s: %v", wkt, err)
		}
		if got.AsText() != g.AsText() || h.srsID != 3857 || h.empty != g.IsEmpty() {
			t.Errorf("%s: read %s, srs %d, empty %v", wkt, got.AsText(), h.srsID, h.empty)
		}
		// Points and empty geometries carry no envelope; others carry
		// [minx, maxx, miny, maxy].
		wantEnv := !g.IsEmpty() && !g.IsPoint()
		if (len(h.env) == 4) != wantEnv {
			t.Errorf("%s: envelope %v", wkt, h.env)
		}
	}
	if _, _, err := DecodeBlob([]byte("XP\x00\x01\x00\x00\x00\x00")); err == nil {
		t.Error("a blob without the GP magic was accepted")
	}
}

func TestCheckTableName_RefusesTheGeoPackagesOwnTables(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", " ", "gpkg_contents", "RTREE_x", "sqlite_master", strings.Repeat("a", 201), "a\x00b"} {
		if CheckTableName(name) == nil {
			t.Errorf("%q accepted", name)
		}
	}
	if err := CheckTableName("parcels"); err != nil {
		t.Error(err)
	}
}

// A table written by the Writer reads back through ReadLayer with its
// values, and its bulk-loaded R-tree passes SQLite's own check.
func TestWriter_TableReadsBackAndItsRtreePassesRtreecheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.gpkg")
	db, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(ctx, db, "pts", "replace", nil)
	if err != nil {
		t.Fatal(err)
	}
	var fs []feature.Feature
	for i := range 1000 {
		g, _ := geom.UnmarshalWKT("POINT(" + strings.Repeat("1", 1+i%3) + " 2)")
		fs = append(fs, feature.Feature{Geometry: g, CRS: 4326, Props: feature.Properties{{Key: "n", Value: int64(i)}, {Key: "ok", Value: i%2 == 0}}})
	}
	if err := w.Write(fs); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	// An append goes through the R-tree triggers, which call the ST_*
	// functions this package registers.
	if db, err = Open(path, false); err != nil {
		t.Fatal(err)
	}
	if w, err = NewWriter(ctx, db, "pts", "append", nil); err != nil {
		t.Fatal(err)
	}
	pt, err := geom.UnmarshalWKT("POINT(5 7)")
	if err != nil {
		t.Fatal(err)
	}
	more := []feature.Feature{{Geometry: pt, CRS: 4326, Props: feature.Properties{{Key: "n", Value: int64(1000)}}}}
	if err := w.Write(more); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	fs = append(fs, more...)
	db, err = Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("SELECT rtreecheck('rtree_pts_geom')").Scan(&check); err != nil || check != "ok" {
		t.Errorf("rtreecheck = %q, %v", check, err)
	}
	var minx, maxy float64
	if err := db.QueryRow("SELECT minx, maxy FROM rtree_pts_geom WHERE id = 1001").Scan(&minx, &maxy); err != nil || minx != 5 || maxy != 7 {
		t.Errorf("the appended point's index entry: minx %v, maxy %v, %v", minx, maxy, err)
	}
	layer, err := FindLayer(ctx, db, "out.gpkg", "")
	if err != nil || layer.Table != "pts" || layer.GeomColumn != "geom" || layer.CRS != 4326 || layer.UndefinedCRS {
		t.Fatalf("layer %+v, %v", layer, err)
	}
	rows, err := ReadLayer(ctx, db, layer, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for {
		var f feature.Feature
		ok, err := rows.Next(&f)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if v, _ := f.Props.Get("n"); v != int64(n) || f.ID != int64(n+1) || f.Geometry.AsText() != fs[n].Geometry.AsText() {
			t.Fatalf("row %d: id %v, %v, %s", n, f.ID, f.Props, f.Geometry.AsText())
		}
		if v, _ := f.Props.Get("ok"); n < 1000 && v != (n%2 == 0) {
			t.Fatalf("row %d: boolean read as %#v", n, v)
		}
		n++
	}
	if n != len(fs) {
		t.Errorf("read %d rows, wrote %d", n, len(fs))
	}
}
