package etl

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/peterstace/simplefeatures/geom"
)

// spool holds a stream of feature batches for later replay: the first
// batches in memory, the rest in a temporary file, so that a node that
// must wait for one input before it can use another never holds an
// unbounded amount of data in memory nor blocks the other input's
// producer.
type spool struct {
	mem      [][]Feature
	memCount int
	limit    int
	f        *os.File
	w        *bufio.Writer
	buf      []byte
	spilled  int
}

// spoolMemFeatures is how many features a spool keeps in memory before it
// spills to disk.
var spoolMemFeatures = 50_000

func newSpool() *spool {
	return &spool{limit: spoolMemFeatures}
}

func (s *spool) add(b []Feature) error {
	if s.f == nil && s.memCount+len(b) <= s.limit {
		s.mem = append(s.mem, b)
		s.memCount += len(b)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "geoetl-spool-*")
		if err != nil {
			return err
		}
		// The file is unlinked at once: it lives only as long as the open
		// descriptor, so nothing is left behind if the process dies.
		os.Remove(f.Name())
		s.f = f
		s.w = bufio.NewWriterSize(f, 1<<20)
	}
	for i := range b {
		var err error
		if s.buf, err = appendSpoolFeature(s.buf[:0], &b[i]); err != nil {
			return err
		}
		var n [binary.MaxVarintLen64]byte
		s.w.Write(n[:binary.PutUvarint(n[:], uint64(len(s.buf)))])
		if _, err := s.w.Write(s.buf); err != nil {
			return err
		}
	}
	s.spilled += len(b)
	return nil
}

// The spill format, one record per feature (gob took most of a spooling
// sink's time): uvarint length, then WKB (uvarint length + bytes), CRS
// (varint), the ID as a value, the attribute count and each key (uvarint
// length + bytes) with its value. A value is a tag byte and its data.
const (
	spoolNil byte = iota
	spoolFalse
	spoolTrue
	spoolInt
	spoolFloat
	spoolString
	spoolBytes
	spoolJSON
)

func appendSpoolFeature(dst []byte, f *Feature) ([]byte, error) {
	wkb := f.Geometry.AsBinary()
	dst = binary.AppendUvarint(dst, uint64(len(wkb)))
	dst = append(dst, wkb...)
	dst = binary.AppendVarint(dst, int64(f.CRS))
	var err error
	if dst, err = appendSpoolValue(dst, f.ID); err != nil {
		return nil, err
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.Props)))
	for _, kv := range f.Props {
		dst = binary.AppendUvarint(dst, uint64(len(kv.Key)))
		dst = append(dst, kv.Key...)
		if dst, err = appendSpoolValue(dst, kv.Value); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", kv.Key, err)
		}
	}
	return dst, nil
}

func appendSpoolValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, spoolNil), nil
	case bool:
		if x {
			return append(dst, spoolTrue), nil
		}
		return append(dst, spoolFalse), nil
	case int64:
		return binary.AppendVarint(append(dst, spoolInt), x), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, spoolFloat), math.Float64bits(x)), nil
	case string:
		dst = binary.AppendUvarint(append(dst, spoolString), uint64(len(x)))
		return append(dst, x...), nil
	case []byte:
		dst = binary.AppendUvarint(append(dst, spoolBytes), uint64(len(x)))
		return append(dst, x...), nil
	case map[string]any, []any:
		j, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		dst = binary.AppendUvarint(append(dst, spoolJSON), uint64(len(j)))
		return append(dst, j...), nil
	}
	return nil, fmt.Errorf("cannot spool a value of type %T", v)
}

type spoolDecoder struct {
	b   []byte
	err error
}

func (d *spoolDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("spool record is corrupt")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *spoolDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errors.New("spool record is corrupt")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *spoolDecoder) value() any {
	if d.err != nil || len(d.b) == 0 {
		d.err = errors.New("spool record is corrupt")
		return nil
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case spoolNil:
		return nil
	case spoolFalse:
		return false
	case spoolTrue:
		return true
	case spoolInt:
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = errors.New("spool record is corrupt")
			return nil
		}
		d.b = d.b[n:]
		return v
	case spoolFloat:
		if len(d.b) < 8 {
			d.err = errors.New("spool record is corrupt")
			return nil
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v
	case spoolString:
		return string(d.bytes())
	case spoolBytes:
		return append([]byte(nil), d.bytes()...)
	case spoolJSON:
		var v any
		if err := unmarshalJSON(d.bytes(), &v); err != nil {
			d.err = err
			return nil
		}
		return normalizeNested(v)
	}
	d.err = fmt.Errorf("spool record has unknown tag %d", tag)
	return nil
}

func decodeSpoolFeature(rec []byte) (Feature, error) {
	d := &spoolDecoder{b: rec}
	wkb := d.bytes()
	if d.err != nil {
		return Feature{}, d.err
	}
	g, err := geom.UnmarshalWKB(wkb, geom.NoValidate{})
	if err != nil {
		return Feature{}, err
	}
	crs, n := binary.Varint(d.b)
	if n <= 0 {
		return Feature{}, errors.New("spool record is corrupt")
	}
	d.b = d.b[n:]
	f := Feature{Geometry: g, CRS: int(crs), ID: d.value()}
	np := d.uvarint()
	if d.err == nil && np > uint64(len(d.b)) {
		return Feature{}, errors.New("spool record is corrupt")
	}
	f.Props = make(Properties, 0, np)
	for range np {
		k := string(d.bytes())
		v := d.value()
		if d.err != nil {
			return Feature{}, d.err
		}
		f.Props = append(f.Props, Property{Key: k, Value: v})
	}
	return f, d.err
}

// replay calls fn with every batch in the order they were added.
func (s *spool) replay(fn func([]Feature) error) error {
	for i, b := range s.mem {
		s.mem[i] = nil
		if err := fn(b); err != nil {
			return err
		}
	}
	s.mem = nil
	if s.f == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(s.f, 1<<20)
	batch := make([]Feature, 0, batchSize)
	var rec []byte
	for n := 0; n < s.spilled; n++ {
		size, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("reading the spool: %w", err)
		}
		if cap(rec) < int(size) {
			rec = make([]byte, size)
		}
		rec = rec[:size]
		if _, err := io.ReadFull(r, rec); err != nil {
			return fmt.Errorf("reading the spool: %w", err)
		}
		f, err := decodeSpoolFeature(rec)
		if err != nil {
			return err
		}
		batch = append(batch, f)
		if len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]Feature, 0, batchSize)
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.mem = nil
}
