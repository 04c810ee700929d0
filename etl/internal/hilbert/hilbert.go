// Package hilbert orders boxes along a Hilbert curve, so that boxes near
// one another in space end up near one another in a spatial index
// (GeoPackage's R-tree, FlatGeobuf's packed tree).
package hilbert

import "math"

// Index returns the position along a Hilbert curve of order 16 of a
// point in the unit square.
func Index(fx, fy float64) uint64 {
	const n = 1 << 16
	x := uint32(math.Min(math.Max(fx, 0), 1) * (n - 1))
	y := uint32(math.Min(math.Max(fy, 0), 1) * (n - 1))
	var d uint64
	for s := uint32(n / 2); s > 0; s /= 2 {
		var rx, ry uint32
		if x&s != 0 {
			rx = 1
		}
		if y&s != 0 {
			ry = 1
		}
		d += uint64(s) * uint64(s) * uint64((3*rx)^ry)
		if ry == 0 {
			if rx == 1 {
				x, y = n-1-x, n-1-y
			}
			x, y = y, x
		}
	}
	return d
}
