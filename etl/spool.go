package etl

import (
	"bufio"
	"encoding/gob"
	"errors"
	"io"
	"os"
	"sync"

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
	enc      *gob.Encoder
	spilled  int
}

// spoolMemFeatures is how many features a spool keeps in memory before it
// spills to disk.
var spoolMemFeatures = 50_000

type spoolFeature struct {
	ID   any
	WKB  []byte
	Keys []string
	Vals []any
	CRS  int
}

var registerGob sync.Once

func newSpool() *spool {
	registerGob.Do(func() {
		gob.Register(map[string]any{})
		gob.Register([]any{})
	})
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
		s.enc = gob.NewEncoder(s.w)
	}
	for _, f := range b {
		sf := spoolFeature{ID: f.ID, WKB: f.Geometry.AsBinary(), CRS: f.CRS,
			Keys: make([]string, len(f.Props)), Vals: make([]any, len(f.Props))}
		for i, kv := range f.Props {
			sf.Keys[i], sf.Vals[i] = kv.Key, kv.Value
		}
		if err := s.enc.Encode(&sf); err != nil {
			return err
		}
	}
	s.spilled += len(b)
	return nil
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
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 1<<20))
	batch := make([]Feature, 0, batchSize)
	for n := 0; n < s.spilled; n++ {
		var sf spoolFeature
		if err := dec.Decode(&sf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		g, err := geom.UnmarshalWKB(sf.WKB, geom.NoValidate{})
		if err != nil {
			return err
		}
		f := Feature{ID: sf.ID, Geometry: g, CRS: sf.CRS, Props: make(Properties, len(sf.Keys))}
		for i := range sf.Keys {
			f.Props[i] = Property{Key: sf.Keys[i], Value: sf.Vals[i]}
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
