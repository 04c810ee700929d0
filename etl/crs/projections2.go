package crs

import "math"

// This file holds the projections added with the PROJ-generated table.
// Each follows the formulas PROJ uses for the same EPSG method (which are
// those of the EPSG guidance note 7-2 unless said otherwise), so results
// agree with cs2cs to well below a millimetre.

// tsfn is the t of Snyder (15-9): tan(π/4 - φ/2) / ((1 - e sin φ)/(1 + e sin φ))^(e/2).
func tsfn(phi, e float64) float64 {
	s := e * math.Sin(phi)
	return math.Tan(math.Pi/4-phi/2) / math.Pow((1-s)/(1+s), e/2)
}

// phi2 inverts tsfn.
func phi2(ts, e float64) float64 {
	return math.Atan(tauf(math.Sinh(-math.Log(ts)), e))
}

func msfn(phi, es float64) float64 {
	s := math.Sin(phi)
	return math.Cos(phi) / math.Sqrt(1-es*s*s)
}

// mercator covers Mercator variants A and B (k0 from the standard
// parallel) on the ellipsoid, and Pseudo-Mercator (e = 0 with the
// ellipsoid's semi-major axis).
type mercator struct {
	e, ak0, lon0, fe, fn float64
}

func (m *mercator) forward(lon, lat float64) (float64, float64, bool) {
	if math.Abs(lat) >= math.Pi/2 {
		return 0, 0, false
	}
	dl := adjlon(lon - m.lon0)
	if m.e == 0 { // the sphere (Pseudo-Mercator), on the hot path
		return m.fe + m.ak0*dl, m.fn + m.ak0*math.Log(math.Tan(math.Pi/4+lat/2)), true
	}
	return m.fe + m.ak0*dl, m.fn + m.ak0*math.Asinh(taup(math.Tan(lat), m.e)), true
}

func (m *mercator) inverse(x, y float64) (float64, float64, bool) {
	tp := math.Sinh((y - m.fn) / m.ak0)
	return (x-m.fe)/m.ak0 + m.lon0, math.Atan(tauf(tp, m.e)), true
}

// stereoPolar is the ellipsoidal polar stereographic projection
// (variants A and B).
type stereoPolar struct {
	e, akm1, lon0, fe, fn float64
	south                 bool
}

func newStereoPolar(el ellipsoid, south bool, k0, latTS, lon0, fe, fn float64, variantB bool) *stereoPolar {
	p := &stereoPolar{e: el.e, lon0: lon0 * deg, fe: fe, fn: fn, south: south}
	if variantB && math.Abs(math.Abs(latTS)-90) > 1e-10 {
		phits := math.Abs(latTS) * deg
		t := tsfn(phits, el.e)
		p.akm1 = el.a * msfn(phits, el.es) / t
		return p
	}
	if variantB {
		k0 = 1
	}
	e := el.e
	p.akm1 = 2 * k0 * el.a / math.Sqrt(math.Pow(1+e, 1+e)*math.Pow(1-e, 1-e))
	return p
}

func (p *stereoPolar) forward(lon, lat float64) (float64, float64, bool) {
	dl := adjlon(lon - p.lon0)
	if p.south {
		lat = -lat
	}
	if lat <= -math.Pi/2+1e-12 {
		return 0, 0, false
	}
	rho := p.akm1 * tsfn(lat, p.e)
	x := rho * math.Sin(dl)
	y := -rho * math.Cos(dl)
	if p.south {
		y = -y
	}
	return x + p.fe, y + p.fn, true
}

func (p *stereoPolar) inverse(x, y float64) (float64, float64, bool) {
	x, y = x-p.fe, y-p.fn
	if !p.south {
		y = -y
	}
	rho := math.Hypot(x, y)
	lat := phi2(rho/p.akm1, p.e)
	if rho == 0 {
		lat = math.Pi / 2
	}
	lon := math.Atan2(x, y)
	if p.south {
		lat = -lat
	}
	return lon + p.lon0, lat, true
}

// sterea is the oblique stereographic projection as PROJ implements it
// (EPSG's "Oblique Stereographic"): a conformal (Gauss) sphere, then the
// spherical stereographic projection.
type sterea struct {
	e, c, k, ratexp     float64
	phic0, sinc0, cosc0 float64
	r2, ak0             float64
	lon0, fe, fn        float64
}

func srat(esinp, exp float64) float64 { return math.Pow((1-esinp)/(1+esinp), exp) }

func newSterea(el ellipsoid, lat0, lon0, k0, fe, fn float64) *sterea {
	s := &sterea{e: el.e, lon0: lon0 * deg, fe: fe, fn: fn, ak0: el.a * k0}
	phi0 := lat0 * deg
	sphi := math.Sin(phi0)
	cphi := math.Cos(phi0)
	cphi *= cphi
	rc := math.Sqrt(1-el.es) / (1 - el.es*sphi*sphi)
	s.c = math.Sqrt(1 + el.es*cphi*cphi/(1-el.es))
	s.phic0 = math.Asin(sphi / s.c)
	s.ratexp = 0.5 * s.c * el.e
	s.k = math.Tan(0.5*s.phic0+math.Pi/4) / (math.Pow(math.Tan(0.5*phi0+math.Pi/4), s.c) * srat(el.e*sphi, s.ratexp))
	s.sinc0, s.cosc0 = math.Sin(s.phic0), math.Cos(s.phic0)
	s.r2 = 2 * rc
	return s
}

func (s *sterea) forward(lon, lat float64) (float64, float64, bool) {
	dl := adjlon(lon - s.lon0)
	phi := 2*math.Atan(s.k*math.Pow(math.Tan(0.5*lat+math.Pi/4), s.c)*srat(s.e*math.Sin(lat), s.ratexp)) - math.Pi/2
	lam := s.c * dl
	sinc, cosc := math.Sincos(phi)
	cosl := math.Cos(lam)
	den := 1 + s.sinc0*sinc + s.cosc0*cosc*cosl
	if den <= 1e-15 {
		return 0, 0, false
	}
	k := s.r2 / den
	return s.fe + s.ak0*k*cosc*math.Sin(lam), s.fn + s.ak0*k*(s.cosc0*sinc-s.sinc0*cosc*cosl), true
}

func (s *sterea) inverse(x, y float64) (float64, float64, bool) {
	x, y = (x-s.fe)/s.ak0, (y-s.fn)/s.ak0
	rho := math.Hypot(x, y)
	phi, lam := s.phic0, 0.0
	if rho != 0 {
		c := 2 * math.Atan2(rho, s.r2)
		sinc, cosc := math.Sincos(c)
		phi = math.Asin(cosc*s.sinc0 + y*sinc*s.cosc0/rho)
		lam = math.Atan2(x*sinc, rho*s.cosc0*cosc-y*s.sinc0*sinc)
	}
	lon := lam / s.c
	num := math.Pow(math.Tan(0.5*phi+math.Pi/4)/s.k, 1/s.c)
	lat := phi
	for range 20 {
		next := 2*math.Atan(num*srat(s.e*math.Sin(lat), -0.5*s.e)) - math.Pi/2
		if math.Abs(next-lat) < 1e-14 {
			lat = next
			break
		}
		lat = next
	}
	return lon + s.lon0, lat, true
}

// albers is the Albers equal-area conic projection.
type albers struct {
	e, es, a, n, c, rho0, lon0, fe, fn float64
}

// qsfn is Snyder's q (3-12).
func qsfn(phi, e, es float64) float64 {
	s := math.Sin(phi)
	if e < 1e-10 {
		return 2 * s
	}
	es1 := e * s
	return (1 - es) * (s/(1-es1*es1) - 1/(2*e)*math.Log((1-es1)/(1+es1)))
}

func newAlbers(el ellipsoid, lat0, lon0, lat1, lat2, fe, fn float64) *albers {
	p := &albers{e: el.e, es: el.es, a: el.a, lon0: lon0 * deg, fe: fe, fn: fn}
	p1, p2 := lat1*deg, lat2*deg
	m1, m2 := msfn(p1, el.es), msfn(p2, el.es)
	q1, q2 := qsfn(p1, el.e, el.es), qsfn(p2, el.e, el.es)
	if math.Abs(p1-p2) < 1e-10 {
		p.n = math.Sin(p1)
	} else {
		p.n = (m1*m1 - m2*m2) / (q2 - q1)
	}
	p.c = m1*m1 + p.n*q1
	p.rho0 = el.a * math.Sqrt(p.c-p.n*qsfn(lat0*deg, el.e, el.es)) / p.n
	return p
}

func (p *albers) forward(lon, lat float64) (float64, float64, bool) {
	r := p.c - p.n*qsfn(lat, p.e, p.es)
	if r < 0 {
		return 0, 0, false
	}
	rho := p.a * math.Sqrt(r) / p.n
	theta := p.n * adjlon(lon-p.lon0)
	return p.fe + rho*math.Sin(theta), p.fn + p.rho0 - rho*math.Cos(theta), true
}

func (p *albers) inverse(x, y float64) (float64, float64, bool) {
	x, y = x-p.fe, p.rho0-(y-p.fn)
	rho := math.Hypot(x, y)
	if p.n < 0 {
		rho, x, y = -rho, -x, -y
	}
	q := (p.c - rho*rho*p.n*p.n/(p.a*p.a)) / p.n
	var lat float64
	// Near the poles q reaches its limit and the iteration does not
	// converge; PROJ returns the pole there too.
	qp := qsfn(math.Pi/2, p.e, p.es)
	if math.Abs(math.Abs(q)-qp) < 1e-12 {
		lat = math.Copysign(math.Pi/2, q)
	} else {
		lat = authalicInverse(q, p.e, p.es)
		if math.IsNaN(lat) {
			return 0, 0, false
		}
	}
	return math.Atan2(x, y)/p.n + p.lon0, lat, true
}

// authalicInverse returns the latitude whose q is the given one, by the
// Newton iteration of Snyder (3-16) that PROJ uses (phi1_ in aea.cpp).
func authalicInverse(q, e, es float64) float64 {
	if e < 1e-10 {
		return math.Asin(math.Max(-1, math.Min(1, q/2)))
	}
	phi := math.Asin(math.Max(-1, math.Min(1, 0.5*q)))
	for range 30 {
		s, c := math.Sincos(phi)
		con := e * s
		com := 1 - con*con
		dphi := 0.5 * com * com / c * (q/(1-es) - s/com + 0.5/e*math.Log((1-con)/(1+con)))
		phi += dphi
		if math.Abs(dphi) <= 1e-14 {
			return phi
		}
	}
	return math.NaN()
}

// laeaPolar is the polar aspect of the Lambert azimuthal equal-area
// projection, where the oblique formulas divide by zero.
type laeaPolar struct {
	e, es, a, qp, lon0, fe, fn float64
	south                      bool
	apa                        [3]float64
}

func (l *laeaPolar) forward(lon, lat float64) (float64, float64, bool) {
	dl := adjlon(lon - l.lon0)
	q := l.q(lat)
	var r float64
	if l.south {
		r = l.qp + q
	} else {
		r = l.qp - q
	}
	if r < 0 {
		r = 0
	}
	rho := l.a * math.Sqrt(r)
	x := rho * math.Sin(dl)
	y := rho * math.Cos(dl)
	if !l.south {
		y = -y
	}
	return x + l.fe, y + l.fn, true
}

func (l *laeaPolar) q(phi float64) float64 { return qsfn(phi, l.e, l.es) }

func (l *laeaPolar) inverse(x, y float64) (float64, float64, bool) {
	x, y = x-l.fe, y-l.fn
	rho := math.Hypot(x, y)
	r := rho / l.a
	q := r * r
	if !l.south {
		q, y = l.qp-q, -y
	} else {
		q = q - l.qp
	}
	ab := q / l.qp
	if math.Abs(ab) > 1+1e-12 {
		return 0, 0, false
	}
	ab = math.Max(-1, math.Min(1, ab))
	beta := math.Asin(ab)
	phi := beta + l.apa[0]*math.Sin(2*beta) + l.apa[1]*math.Sin(4*beta) + l.apa[2]*math.Sin(6*beta)
	return math.Atan2(x, y) + l.lon0, phi, true
}

// cassini is PROJ's ellipsoidal Cassini-Soldner (Snyder's series).
type cassini struct {
	es, a, m0, lon0, fe, fn float64
	arc                     meridian
}

func newCassini(el ellipsoid, lat0, lon0, fe, fn float64) *cassini {
	c := &cassini{es: el.es, a: el.a, lon0: lon0 * deg, fe: fe, fn: fn, arc: newPROJMeridian(el)}
	c.m0 = c.arc.distance(lat0 * deg)
	return c
}

func (c *cassini) forward(lon, lat float64) (float64, float64, bool) {
	dl := adjlon(lon - c.lon0)
	s, co := math.Sincos(lat)
	m := c.arc.distance(lat)
	n := 1 / math.Sqrt(1-c.es*s*s)
	tn := math.Tan(lat)
	t := tn * tn
	a1 := dl * co
	cc := co * co * c.es / (1 - c.es)
	a2 := a1 * a1
	x := n * a1 * (1 - a2*t*(1.0/6-(8-t+8*cc)*a2/120))
	y := m - c.m0 + n*tn*a2*(0.5+(5-t+6*cc)*a2/24)
	return c.fe + c.a*x, c.fn + c.a*y, true
}

func (c *cassini) inverse(x, y float64) (float64, float64, bool) {
	x, y = (x-c.fe)/c.a, (y-c.fn)/c.a
	ph1 := c.arc.latitude(c.m0 + y)
	tn := math.Tan(ph1)
	t := tn * tn
	s := math.Sin(ph1)
	r := 1 / (1 - c.es*s*s)
	n := math.Sqrt(r)
	r *= (1 - c.es) * n
	dd := x / n
	d2 := dd * dd
	lat := ph1 - (n*tn/r)*d2*(0.5-(1+3*t)*d2/24)
	lon := dd * (1 + t*d2*(-1.0/3+(1+3*t)*d2/15)) / math.Cos(ph1)
	return lon + c.lon0, lat, true
}

// meridian computes the meridian arc length (in units of a) and its
// inverse with Helmert's series in the third flattening, exact to well
// below a nanometre on Earth ellipsoids.
type meridian struct {
	es   float64
	k    float64 // rectifying radius over a
	c, d [5]float64
	en   [5]float64 // PROJ's coefficients, when set
}

func newMeridian(el ellipsoid) meridian {
	n := el.f / (2 - el.f)
	n2, n3, n4 := n*n, n*n*n, n*n*n*n
	m := meridian{es: el.es}
	m.k = (1 + n2/4 + n4/64) / (1 + n)
	m.c = [5]float64{0, -3*n/2 + 9*n3/16, 15*n2/16 - 15*n4/32, -35 * n3 / 48, 315 * n4 / 512}
	m.d = [5]float64{0, 3*n/2 - 27*n3/32, 21*n2/16 - 55*n4/32, 151 * n3 / 96, 1097 * n4 / 512}
	return m
}

func (m meridian) distance(phi float64) float64 {
	if m.en[0] != 0 {
		// PROJ's series (pj_mlfn), which Cassini uses there.
		sp, cp := math.Sincos(phi)
		cp *= sp
		sp *= sp
		return m.en[0]*phi - cp*(m.en[1]+sp*(m.en[2]+sp*(m.en[3]+sp*m.en[4])))
	}
	s := phi
	for j := 1; j <= 4; j++ {
		s += m.c[j] * math.Sin(2*float64(j)*phi)
	}
	return m.k * s
}

// newPROJMeridian is the meridian distance of PROJ's pj_enfn, a series
// in the eccentricity squared.
func newPROJMeridian(el ellipsoid) meridian {
	m := newMeridian(el)
	es := el.es
	const (
		c00, c02, c04, c06, c08 = 1., .25, .046875, .01953125, .01068115234375
		c22, c44, c46, c48      = .75, .46875, .01302083333333333333, .00712076822916666666
		c66, c68, c88           = .36458333333333333333, .00569661458333333333, .3076171875
	)
	m.en[0] = c00 - es*(c02+es*(c04+es*(c06+es*c08)))
	m.en[1] = es * (c22 - es*(c04+es*(c06+es*c08)))
	t := es * es
	m.en[2] = t * (c44 - es*(c46+es*c48))
	t *= es
	m.en[3] = t * (c66 - es*c68)
	m.en[4] = t * es * c88
	return m
}

func (m meridian) latitude(dist float64) float64 {
	mu := dist / m.k
	phi := mu
	for j := 1; j <= 4; j++ {
		phi += m.d[j] * math.Sin(2*float64(j)*mu)
	}
	// Two Newton steps make the series inverse exact.
	for range 3 {
		s := math.Sin(phi)
		d := (m.distance(phi) - dist) * math.Pow(1-m.es*s*s, 1.5) / (1 - m.es)
		phi -= d
	}
	return phi
}

// eqc is the equidistant cylindrical projection as PROJ computes it: on
// the sphere of radius a, also for EPSG's ellipsoidal method (EPSG:4087).
type eqc struct {
	a, rc, lat0, lon0, fe, fn float64
}

func (p *eqc) forward(lon, lat float64) (float64, float64, bool) {
	dl := adjlon(lon - p.lon0)
	return p.fe + p.a*p.rc*dl, p.fn + p.a*(lat-p.lat0), true
}

func (p *eqc) inverse(x, y float64) (float64, float64, bool) {
	return (x-p.fe)/(p.a*p.rc) + p.lon0, (y-p.fn)/p.a + p.lat0, true
}

// hotine is the Hotine oblique Mercator, variants A (origin at the
// natural origin) and B (origin at the projection centre).
type hotine struct {
	e, a, b, h, lam0, g0, gc float64
	uc, fe, fn               float64
	sing0, cosg0             float64
}

func newHotine(el ellipsoid, latc, lonc, alpha, gamma, kc, fe, fn float64, variantB bool) *hotine {
	e, es := el.e, el.es
	phic := latc * deg
	sp, cp := math.Sincos(phic)
	h := &hotine{e: e, fe: fe, fn: fn}
	h.b = math.Sqrt(1 + es*cp*cp*cp*cp/(1-es))
	h.a = el.a * h.b * kc * math.Sqrt(1-es) / (1 - es*sp*sp)
	t0 := tsfn(phic, e)
	d := h.b * math.Sqrt(1-es) / (cp * math.Sqrt(1-es*sp*sp))
	if d < 1 {
		d = 1
	}
	f := d + math.Copysign(math.Sqrt(d*d-1), phic)
	h.h = f * math.Pow(t0, h.b)
	g := (f - 1/f) / 2
	ac := alpha * deg
	h.g0 = math.Asin(math.Sin(ac) / d)
	h.lam0 = lonc*deg - math.Asin(g*math.Tan(h.g0))/h.b
	h.gc = gamma * deg
	h.sing0, h.cosg0 = math.Sincos(h.g0)
	if variantB {
		if math.Abs(math.Abs(ac)-math.Pi/2) < 1e-10 {
			h.uc = h.a * (lonc*deg - h.lam0)
		} else {
			h.uc = h.a / h.b * math.Atan2(math.Sqrt(d*d-1), math.Cos(ac))
		}
		h.uc = math.Copysign(math.Abs(h.uc), phic)
	}
	return h
}

func (h *hotine) forward(lon, lat float64) (float64, float64, bool) {
	dl := adjlon(lon - h.lam0)
	var u, v float64
	if math.Abs(math.Abs(lat)-math.Pi/2) > 1e-12 {
		q := h.h / math.Pow(tsfn(lat, h.e), h.b)
		s := (q - 1/q) / 2
		t := (q + 1/q) / 2
		vv := math.Sin(h.b * dl)
		uu := (-vv*h.cosg0 + s*h.sing0) / t
		if math.Abs(math.Abs(uu)-1) < 1e-12 {
			return 0, 0, false
		}
		v = h.a * math.Log((1-uu)/(1+uu)) / (2 * h.b)
		u = h.a * math.Atan2(s*h.cosg0+vv*h.sing0, math.Cos(h.b*dl)) / h.b
	} else {
		v = h.a / h.b * math.Log(math.Tan(math.Pi/4-math.Copysign(1, lat)*h.g0/2))
		u = h.a * lat / h.b
	}
	u -= h.uc
	sg, cg := math.Sincos(h.gc)
	return v*cg + u*sg + h.fe, u*cg - v*sg + h.fn, true
}

func (h *hotine) inverse(x, y float64) (float64, float64, bool) {
	x, y = x-h.fe, y-h.fn
	sg, cg := math.Sincos(h.gc)
	v := x*cg - y*sg
	u := y*cg + x*sg + h.uc
	q := math.Exp(-h.b * v / h.a)
	s := (q - 1/q) / 2
	t := (q + 1/q) / 2
	vv := math.Sin(h.b * u / h.a)
	uu := (vv*h.cosg0 + s*h.sing0) / t
	if math.Abs(math.Abs(uu)-1) < 1e-12 {
		return h.lam0, math.Copysign(math.Pi/2, uu), true
	}
	ts := math.Pow(h.h/math.Sqrt((1+uu)/(1-uu)), 1/h.b)
	lat := phi2(ts, h.e)
	lon := h.lam0 - math.Atan2(s*h.cosg0-vv*h.sing0, math.Cos(h.b*u/h.a))/h.b
	return lon, lat, true
}

// krovak is the Krovak oblique conic conformal projection, computing
// the easting and northing of the North Orientated variant (the negated
// westing and southing); the CRS's south and west axes give the classic
// form.
type krovak struct {
	e, b, t0, n, r0, rhoFactor float64
	alphac, lon0, fe, fn       float64
}

func newKrovak(el ellipsoid, latc, lon0, alphac, phip, kp, fe, fn float64) *krovak {
	e, es := el.e, el.es
	phic := latc * deg
	sp, cp := math.Sincos(phic)
	k := &krovak{e: e, alphac: alphac * deg, lon0: lon0 * deg, fe: fe, fn: fn}
	a := el.a * math.Sqrt(1-es) / (1 - es*sp*sp)
	k.b = math.Sqrt(1 + es*cp*cp*cp*cp/(1-es))
	g0 := math.Asin(sp / k.b)
	k.t0 = math.Tan(math.Pi/4+g0/2) * math.Pow((1+e*sp)/(1-e*sp), e*k.b/2) / math.Pow(math.Tan(math.Pi/4+phic/2), k.b)
	pp := phip * deg
	k.n = math.Sin(pp)
	k.r0 = kp * a / math.Tan(pp)
	k.rhoFactor = k.r0 * math.Pow(math.Tan(pp/2+math.Pi/4), k.n)
	return k
}

func (k *krovak) forward(lon, lat float64) (float64, float64, bool) {
	es := k.e * math.Sin(lat)
	u := 2 * (math.Atan(k.t0*math.Pow(math.Tan(lat/2+math.Pi/4), k.b)/math.Pow((1+es)/(1-es), k.e*k.b/2)) - math.Pi/4)
	v := -k.b * adjlon(lon-k.lon0)
	su, cu := math.Sincos(u)
	t := math.Asin(math.Cos(k.alphac)*su + math.Sin(k.alphac)*cu*math.Cos(v))
	d := math.Asin(cu * math.Sin(v) / math.Cos(t))
	theta := k.n * d
	r := k.rhoFactor / math.Pow(math.Tan(t/2+math.Pi/4), k.n)
	xs := r*math.Cos(theta) + k.fn
	yw := r*math.Sin(theta) + k.fe
	return -yw, -xs, true
}

func (k *krovak) inverse(x, y float64) (float64, float64, bool) {
	xs, yw := -y, -x
	xp, yp := xs-k.fn, yw-k.fe
	r := math.Hypot(xp, yp)
	theta := math.Atan2(yp, xp)
	d := theta / k.n
	t := 2 * (math.Atan(math.Pow(k.r0/r, 1/k.n)*math.Tan(math.Pi/4+math.Asin(k.n)/2)) - math.Pi/4)
	st, ct := math.Sincos(t)
	u := math.Asin(math.Cos(k.alphac)*st - math.Sin(k.alphac)*ct*math.Cos(d))
	v := math.Asin(ct * math.Sin(d) / math.Cos(u))
	lon := k.lon0 - v/k.b
	lat := u
	base := math.Pow(k.t0, -1/k.b) * math.Pow(math.Tan(u/2+math.Pi/4), 1/k.b)
	for range 30 {
		es := k.e * math.Sin(lat)
		next := 2 * (math.Atan(base*math.Pow((1+es)/(1-es), k.e/2)) - math.Pi/4)
		if math.Abs(next-lat) < 1e-14 {
			lat = next
			break
		}
		lat = next
	}
	return lon, lat, true
}

// somerc is the Swiss oblique cylindrical projection, which PROJ uses for
// Hotine oblique Mercator (variant B) with an azimuth and rectified grid
// angle of 90° (EPSG:2056, 21781, 23700): a conformal sphere, then a
// transverse Mercator on it.
type somerc struct {
	e, hlfE, c, k, kR, sinp0, cosp0, rOneEs float64
	a, lon0, fe, fn                         float64
}

func newSomerc(el ellipsoid, lat0, lon0, k0, fe, fn float64) *somerc {
	s := &somerc{e: el.e, hlfE: 0.5 * el.e, a: el.a, lon0: lon0 * deg, fe: fe, fn: fn, rOneEs: 1 / (1 - el.es)}
	phi0 := lat0 * deg
	cp := math.Cos(phi0)
	cp *= cp
	s.c = math.Sqrt(1 + el.es*cp*cp*s.rOneEs)
	sp := math.Sin(phi0)
	s.sinp0 = sp / s.c
	phip0 := math.Asin(s.sinp0)
	s.cosp0 = math.Cos(phip0)
	sp *= el.e
	s.k = math.Log(math.Tan(math.Pi/4+0.5*phip0)) - s.c*(math.Log(math.Tan(math.Pi/4+0.5*phi0))-s.hlfE*math.Log((1+sp)/(1-sp)))
	s.kR = k0 * math.Sqrt(1-el.es) / (1 - sp*sp)
	return s
}

func aasin(v float64) float64 { return math.Asin(math.Max(-1, math.Min(1, v))) }

func (s *somerc) forward(lon, lat float64) (float64, float64, bool) {
	lam := adjlon(lon - s.lon0)
	sp := s.e * math.Sin(lat)
	phip := 2*math.Atan(math.Exp(s.c*(math.Log(math.Tan(math.Pi/4+0.5*lat))-s.hlfE*math.Log((1+sp)/(1-sp)))+s.k)) - math.Pi/2
	lamp := s.c * lam
	cp := math.Cos(phip)
	phipp := aasin(s.cosp0*math.Sin(phip) - s.sinp0*cp*math.Cos(lamp))
	lampp := aasin(cp * math.Sin(lamp) / math.Cos(phipp))
	return s.fe + s.a*s.kR*lampp, s.fn + s.a*s.kR*math.Log(math.Tan(math.Pi/4+0.5*phipp)), true
}

func (s *somerc) inverse(x, y float64) (float64, float64, bool) {
	x, y = (x-s.fe)/s.a, (y-s.fn)/s.a
	phipp := 2 * (math.Atan(math.Exp(y/s.kR)) - math.Pi/4)
	lampp := x / s.kR
	cp := math.Cos(phipp)
	phip := aasin(s.cosp0*math.Sin(phipp) + s.sinp0*cp*math.Cos(lampp))
	lamp := aasin(cp * math.Sin(lampp) / math.Cos(phip))
	con := (s.k - math.Log(math.Tan(math.Pi/4+0.5*phip))) / s.c
	phi := phip
	for range 6 {
		esp := s.e * math.Sin(phi)
		delp := (con + math.Log(math.Tan(math.Pi/4+0.5*phi)) - s.hlfE*math.Log((1+esp)/(1-esp))) * (1 - esp*esp) * math.Cos(phi) * s.rOneEs
		phi -= delp
		if math.Abs(delp) < 1e-10 {
			break
		}
	}
	return lamp/s.c + s.lon0, phi, true
}
