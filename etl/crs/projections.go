package crs

import "math"

// transverseMercator implements Krüger's series to sixth order in the
// third flattening, as given by Karney (2011), "Transverse Mercator with
// an accuracy of a few nanometers". Within 4000 km of the central meridian
// it agrees with PROJ's Poder/Engsager implementation to nanometres.
type transverseMercator struct {
	e           float64
	lon0        float64
	k0a         float64 // k0 times the rectifying radius
	fe, fn      float64
	y0          float64 // northing of the origin latitude
	alpha, beta [7]float64
}

func newTransverseMercator(el ellipsoid, lat0, lon0, k0, fe, fn float64) *transverseMercator {
	n := el.f / (2 - el.f)
	n2 := n * n
	n3, n4, n5, n6 := n2*n, n2*n2, n2*n2*n, n2*n2*n2
	tm := &transverseMercator{e: el.e, lon0: lon0 * deg, fe: fe, fn: fn}
	rect := el.a / (1 + n) * (1 + n2/4 + n4/64 + n6/256)
	tm.k0a = k0 * rect
	tm.alpha = [7]float64{0,
		n/2 - 2*n2/3 + 5*n3/16 + 41*n4/180 - 127*n5/288 + 7891*n6/37800,
		13*n2/48 - 3*n3/5 + 557*n4/1440 + 281*n5/630 - 1983433*n6/1935360,
		61*n3/240 - 103*n4/140 + 15061*n5/26880 + 167603*n6/181440,
		49561*n4/161280 - 179*n5/168 + 6601661*n6/7257600,
		34729*n5/80640 - 3418889*n6/1995840,
		212378941 * n6 / 319334400,
	}
	tm.beta = [7]float64{0,
		n/2 - 2*n2/3 + 37*n3/96 - n4/360 - 81*n5/512 + 96199*n6/604800,
		n2/48 + n3/15 - 437*n4/1440 + 46*n5/105 - 1118711*n6/3870720,
		17*n3/480 - 37*n4/840 - 209*n5/4480 + 5569*n6/90720,
		4397*n4/161280 - 11*n5/504 - 830251*n6/7257600,
		4583*n5/161280 - 108847*n6/3991680,
		20648693 * n6 / 638668800,
	}
	_, tm.y0 = tm.raw(0, lat0*deg)
	return tm
}

// taup returns the tangent of the conformal latitude for tau = tan(lat).
func taup(tau, e float64) float64 {
	tau1 := math.Hypot(1, tau)
	sig := math.Sinh(e * math.Atanh(e*tau/tau1))
	return math.Hypot(1, sig)*tau - sig*tau1
}

// tauf inverts taup by Newton's method (Karney 2011, eq. 19-21).
func tauf(tp, e float64) float64 {
	e2m := 1 - e*e
	tau := tp / e2m
	for range 8 {
		tpa := taup(tau, e)
		dtau := (tp - tpa) * (1 + e2m*tau*tau) / (e2m * math.Hypot(1, tau) * math.Hypot(1, tpa))
		tau += dtau
		if math.Abs(dtau) < 1e-14*math.Max(1, math.Abs(tau)) {
			break
		}
	}
	return tau
}

// raw projects with the central meridian at dlon = 0 and without false
// easting and northing.
func (tm *transverseMercator) raw(dlon, lat float64) (float64, float64) {
	tp := taup(math.Tan(lat), tm.e)
	if math.Abs(lat) == math.Pi/2 {
		tp = math.Copysign(math.Inf(1), lat)
	}
	cl := math.Cos(dlon)
	xip := math.Atan2(tp, cl)
	etap := math.Asinh(math.Sin(dlon) / math.Hypot(tp, cl))
	xi, eta := xip, etap
	for j := 1; j <= 6; j++ {
		fj := 2 * float64(j)
		xi += tm.alpha[j] * math.Sin(fj*xip) * math.Cosh(fj*etap)
		eta += tm.alpha[j] * math.Cos(fj*xip) * math.Sinh(fj*etap)
	}
	return tm.k0a * eta, tm.k0a * xi
}

func (tm *transverseMercator) forward(lon, lat float64) (float64, float64, bool) {
	dlon := adjlon(lon - tm.lon0)
	// Beyond 90 degrees from the central meridian the series is
	// meaningless; PROJ refuses these too.
	if math.Abs(dlon) > math.Pi/2 {
		return 0, 0, false
	}
	x, y := tm.raw(dlon, lat)
	return x + tm.fe, y - tm.y0 + tm.fn, true
}

func (tm *transverseMercator) inverse(x, y float64) (float64, float64, bool) {
	eta := (x - tm.fe) / tm.k0a
	xi := (y - tm.fn + tm.y0) / tm.k0a
	xip, etap := xi, eta
	for j := 1; j <= 6; j++ {
		fj := 2 * float64(j)
		xip -= tm.beta[j] * math.Sin(fj*xi) * math.Cosh(fj*eta)
		etap -= tm.beta[j] * math.Cos(fj*xi) * math.Sinh(fj*eta)
	}
	s, c := math.Sinh(etap), math.Cos(xip)
	r := math.Hypot(s, c)
	var lat, dlon float64
	if r != 0 {
		dlon = math.Atan2(s, c)
		tp := math.Sin(xip) / r
		lat = math.Atan(tauf(tp, tm.e))
	} else {
		lat = math.Copysign(math.Pi/2, xip)
	}
	if math.IsNaN(lat) || math.IsNaN(dlon) {
		return 0, 0, false
	}
	return dlon + tm.lon0, lat, true
}

// laea is the ellipsoidal oblique Lambert Azimuthal Equal Area projection
// (Snyder, "Map Projections: A Working Manual", pp. 187-190).
type laea struct {
	e, es, a     float64
	lon0         float64
	qp, rq, d    float64
	sinB1, cosB1 float64
	fe, fn       float64
	lat0         float64
	apa          [3]float64
}

func newLAEA(el ellipsoid, lat0, lon0, fe, fn float64) *laea {
	l := &laea{e: el.e, es: el.es, a: el.a, lon0: lon0 * deg, fe: fe, fn: fn}
	l.qp = l.q(math.Pi / 2)
	l.lat0 = lat0 * deg
	// PROJ inverts the authalic latitude with this series (pj_authlat),
	// which is off from the exact inverse by up to 1.5 mm in Europe; it is
	// used here too so that results agree with PROJ.
	es2, es3 := el.es*el.es, el.es*el.es*el.es
	l.apa = [3]float64{
		el.es/3 + es2*31/180 + es3*517/5040,
		es2*23/360 + es3*251/3780,
		es3 * 761 / 45360,
	}
	l.rq = el.a * math.Sqrt(l.qp/2)
	phi1 := lat0 * deg
	b1 := math.Asin(l.q(phi1) / l.qp)
	l.sinB1, l.cosB1 = math.Sin(b1), math.Cos(b1)
	sp := math.Sin(phi1)
	m1 := math.Cos(phi1) / math.Sqrt(1-el.es*sp*sp)
	l.d = el.a * m1 / (l.rq * l.cosB1)
	return l
}

// q is Snyder's q (eq. 3-12), proportional to the authalic latitude's sine.
func (l *laea) q(phi float64) float64 {
	s := math.Sin(phi)
	es := s * l.e
	return (1 - l.es) * (s/(1-es*es) - 1/(2*l.e)*math.Log((1-es)/(1+es)))
}

func (l *laea) forward(lon, lat float64) (float64, float64, bool) {
	dl := lon - l.lon0
	sinB := l.q(lat) / l.qp
	if sinB > 1 {
		sinB = 1
	} else if sinB < -1 {
		sinB = -1
	}
	cosB := math.Sqrt(1 - sinB*sinB)
	den := 1 + l.sinB1*sinB + l.cosB1*cosB*math.Cos(dl)
	if den <= 1e-15 {
		return 0, 0, false // the antipode of the centre
	}
	b := l.rq * math.Sqrt(2/den)
	x := b * l.d * cosB * math.Sin(dl)
	y := b / l.d * (l.cosB1*sinB - l.sinB1*cosB*math.Cos(dl))
	return x + l.fe, y + l.fn, true
}

func (l *laea) inverse(x, y float64) (float64, float64, bool) {
	x, y = x-l.fe, y-l.fn
	rho := math.Hypot(x/l.d, l.d*y)
	if rho < 1e-12 {
		return l.lon0, l.lat0, true
	}
	arg := rho / (2 * l.rq)
	if arg > 1 {
		return 0, 0, false
	}
	ce := 2 * math.Asin(arg)
	sc, cc := math.Sin(ce), math.Cos(ce)
	q := l.qp * (cc*l.sinB1 + l.d*y*sc*l.cosB1/rho)
	lon := l.lon0 + math.Atan2(x*sc, l.d*rho*l.cosB1*cc-l.d*l.d*y*l.sinB1*sc)
	ab := q / l.qp
	if ab > 1 {
		ab = 1
	} else if ab < -1 {
		ab = -1
	}
	beta := math.Asin(ab)
	phi := beta + l.apa[0]*math.Sin(2*beta) + l.apa[1]*math.Sin(4*beta) + l.apa[2]*math.Sin(6*beta)
	if math.IsNaN(phi) {
		return 0, 0, false
	}
	return lon, phi, true
}

// lcc is the Lambert Conformal Conic projection with two standard
// parallels (Snyder pp. 107-109).
type lcc struct {
	e      float64
	lon0   float64
	n, af  float64 // cone constant, a times F
	rho0   float64
	fe, fn float64
}

func newLCC2SP(el ellipsoid, lat1, lat2, lat0, lon0, fe, fn float64) *lcc {
	l := &lcc{e: el.e, lon0: lon0 * deg, fe: fe, fn: fn}
	p1, p2, p0 := lat1*deg, lat2*deg, lat0*deg
	m1, m2 := l.m(p1), l.m(p2)
	t1, t2 := l.t(p1), l.t(p2)
	l.n = (math.Log(m1) - math.Log(m2)) / (math.Log(t1) - math.Log(t2))
	l.af = el.a * m1 / (l.n * math.Pow(t1, l.n))
	l.rho0 = l.af * math.Pow(l.t(p0), l.n)
	return l
}

// newLCC1SP is the one-standard-parallel case: the cone touches at the
// latitude of origin, scaled by k0.
func newLCC1SP(el ellipsoid, lat0, lon0, k0, fe, fn float64) *lcc {
	l := &lcc{e: el.e, lon0: lon0 * deg, fe: fe, fn: fn}
	p0 := lat0 * deg
	l.n = math.Sin(p0)
	l.af = el.a * k0 * l.m(p0) / (l.n * math.Pow(l.t(p0), l.n))
	l.rho0 = l.af * math.Pow(l.t(p0), l.n)
	return l
}

func (l *lcc) m(phi float64) float64 {
	s := math.Sin(phi)
	return math.Cos(phi) / math.Sqrt(1-l.e*l.e*s*s)
}

func (l *lcc) t(phi float64) float64 {
	s := math.Sin(phi)
	return math.Tan(math.Pi/4-phi/2) / math.Pow((1-l.e*s)/(1+l.e*s), l.e/2)
}

func (l *lcc) forward(lon, lat float64) (float64, float64, bool) {
	if lat*l.n <= -math.Pi/2*math.Abs(l.n)+1e-12 {
		return 0, 0, false // the pole opposite the cone's apex
	}
	rho := 0.0
	if math.Abs(math.Abs(lat)-math.Pi/2) > 1e-12 {
		rho = l.af * math.Pow(l.t(lat), l.n)
	}
	theta := l.n * adjlon(lon-l.lon0)
	return rho*math.Sin(theta) + l.fe, l.rho0 - rho*math.Cos(theta) + l.fn, true
}

func (l *lcc) inverse(x, y float64) (float64, float64, bool) {
	x, y = x-l.fe, l.rho0-(y-l.fn)
	rho := math.Hypot(x, y)
	if l.n < 0 {
		rho, x, y = -rho, -x, -y
	}
	if rho == 0 {
		return l.lon0, math.Copysign(math.Pi/2, l.n), true
	}
	t := math.Pow(rho/l.af, 1/l.n)
	phi := math.Pi/2 - 2*math.Atan(t)
	for range 20 {
		s := l.e * math.Sin(phi)
		next := math.Pi/2 - 2*math.Atan(t*math.Pow((1-s)/(1+s), l.e/2))
		if math.Abs(next-phi) < 1e-15 {
			phi = next
			break
		}
		phi = next
	}
	return math.Atan2(x, y)/l.n + l.lon0, phi, true
}
