package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// BenchmarkRun_GeoJSONReprojectGeoPackage1000 measures what running a
// small real workflow in a worker process costs over running it in
// process: wall time per run (ns/op), CPU per run of the whole process
// tree (this process and its workers, cpu-ms/op) and the start latency
// from Run to the first node record (start-ms-p50).
func BenchmarkRun_GeoJSONReprojectGeoPackage1000(b *testing.B) {
	for _, mode := range []string{"in-process", "worker"} {
		b.Run(mode, func(b *testing.B) {
			pl, local, dir := newPool(b, nil)
			writePoints(b, filepath.Join(dir, "points.geojson"), 1000)
			w := &geoetl.Workflow{Name: "bench", Definition: json.RawMessage(`{"nodes":[
			  {"id":"src","type":"data_source.file","parameters":{"file_path":"points.geojson"}},
			  {"id":"merc","type":"geoprocessing.reproject","parameters":{"target_crs":"EPSG:3857"}},
			  {"id":"out","type":"data_sink.geopackage","parameters":{"output_path":"out.gpkg","table_name":"points"}}],
			 "edges":[{"from":"src","to":"merc"},{"from":"merc","to":"out"}]}`)}
			var eng geoetl.WorkflowEngine = pl
			if mode == "in-process" {
				eng = local
			}
			starts := make([]time.Duration, 0, b.N)
			cpu0 := treeCPU(pl)
			b.ResetTimer()
			for range b.N {
				rec := &firstRecord{}
				t0 := time.Now()
				sum, err := eng.Run(context.Background(), geoetl.RunRequest{TenantName: testTenant, ExecutionID: "bench", Workflow: w, Recorder: rec})
				if err != nil || sum.FeaturesWritten != 1000 {
					b.Fatalf("%+v %v", sum, err)
				}
				starts = append(starts, rec.at.Sub(t0))
			}
			b.StopTimer()
			cpu := treeCPU(pl) - cpu0
			slices.Sort(starts)
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "start-ms-p50")
		})
	}
}

// firstRecord notes when the first node record arrives.
type firstRecord struct {
	once sync.Once
	at   time.Time
}

func (r *firstRecord) Node(geoetl.NodeRun) { r.once.Do(func() { r.at = time.Now() }) }
func (r *firstRecord) Log(_, _, _ string)  {}

func writePoints(b testing.TB, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range n {
		if i > 0 {
			w.WriteString(",\n")
		}
		fmt.Fprintf(w, `{"type":"Feature","properties":{"id":%d,"name":"point %d"},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
			i, i, -180+360*float64(i%997)/997, -80+160*float64((i*7919)%991)/991)
	}
	w.WriteString("]}")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// treeCPU is the CPU time used so far by this process and by the pool's
// live workers (workers that ended are counted by RUSAGE_CHILDREN).
func treeCPU(pl *Pool) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	for _, pid := range pl.Status().PIDs {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
		st, _ := strconv.ParseInt(string(f[12]), 10, 64)
		total += time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	return total
}

// BenchmarkPool_ReplaceAKilledWorker measures how long the pool takes to
// have its warm workers ready again after one is killed (ms-to-ready).
func BenchmarkPool_ReplaceAKilledWorker(b *testing.B) {
	pl, _, _ := newPool(b, nil)
	waitWarm := func(without int) {
		for {
			s := pl.Status()
			if s.Idle >= defaultWarm && !slices.Contains(s.PIDs, without) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitWarm(0)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		victim := pl.Status().PIDs[0]
		t0 := time.Now()
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		waitWarm(victim)
		total += time.Since(t0)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-ready")
}
