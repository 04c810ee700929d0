// Command etlbench measures the GeoETL engine on one million points. It
// prints the wall time, CPU time and peak resident memory of three runs and
// their median, beside ogr2ogr doing the same work on the same file when
// ogr2ogr is installed. Each run is its own process, so peak memory is
// measured per run. The gpkg runs also go through a geoetl worker process
// (the worker package's pool and protocol, as serve runs workflows),
// measuring the worker's wall time and peak memory. Scenarios:
//
//	gpkg     GeoJSON, EPSG:4326 -> EPSG:3857, GeoPackage (and ogr2ogr)
//	fgb      Shapefile, EPSG:4326 -> EPSG:2056, FlatGeobuf with its spatial
//	         index (and ogr2ogr, which writes one too)
//	parquet  Shapefile, EPSG:4326 -> EPSG:2056, GeoParquet (engine only:
//	         GDAL here has no Parquet driver)
//
//	go run ./internal/cmd/etlbench [-scenario gpkg,fgb,parquet] [-n 1000000] [-dir /tmp/etlbench] [-runs 3] [-crs EPSG:2056]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/worker"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of points")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "etlbench"), "work folder: the tenant folder of the runs, named after the tenant, in the data folder that holds it")
	runs := flag.Int("runs", 3, "runs per tool")
	once := flag.String("once", "", "internal: do one engine run of this scenario in this process")
	scenarios := flag.String("scenario", "gpkg,fgb,parquet", "comma-separated scenarios: gpkg, fgb, parquet")
	target := flag.String("crs", "EPSG:2056", "target CRS of the fgb and parquet scenarios")
	asWorker := flag.Bool("worker", false, "internal: be a worker process of the pool")
	flag.Parse()
	if *asWorker {
		e, err := etl.New(etl.Config{DataDir: filepath.Dir(*dir)})
		if err == nil {
			err = worker.ChildMain(e)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "etlbench worker:", err)
			os.Exit(1)
		}
		return
	}
	if *once != "" {
		if err := runOnce(*dir, *once, *target); err != nil {
			fmt.Fprintln(os.Stderr, "etlbench:", err)
			os.Exit(1)
		}
		return
	}
	for _, sc := range strings.Split(*scenarios, ",") {
		if err := bench(*dir, strings.TrimSpace(sc), *target, *n, *runs); err != nil {
			fmt.Fprintln(os.Stderr, "etlbench:", err)
			os.Exit(1)
		}
	}
}

const (
	input    = "points.geojson"
	swissIn  = "swiss.geojson"
	shpInput = "swiss.shp"
)

// scenario describes one benchmark pipeline.
type scenario struct {
	label   string
	engine  string // the engine's workflow definition
	ogrArgs func(dir, target string) []string
	ogrOut  string
}

func scenarioOf(name, target string) (*scenario, error) {
	switch name {
	case "gpkg":
		return &scenario{label: "GeoJSON -> EPSG:3857 -> GeoPackage",
			engine: pipeline(input, "EPSG:3857", `"data_sink.geopackage","parameters":{"output_path":"geoetl.gpkg","table_name":"points"}`),
			ogrOut: "ogr.gpkg",
			ogrArgs: func(dir, _ string) []string {
				return []string{"-f", "GPKG", "-t_srs", "EPSG:3857", filepath.Join(dir, "ogr.gpkg"), filepath.Join(dir, input)}
			}}, nil
	case "fgb":
		return &scenario{label: "Shapefile -> " + target + " -> FlatGeobuf",
			engine: pipeline(shpInput, target, `"data_sink.flatgeobuf","parameters":{"output_path":"geoetl.fgb"}`),
			ogrOut: "ogr.fgb",
			ogrArgs: func(dir, target string) []string {
				return []string{"-f", "FlatGeobuf", "-t_srs", target, filepath.Join(dir, "ogr.fgb"), filepath.Join(dir, shpInput)}
			}}, nil
	case "parquet":
		return &scenario{label: "Shapefile -> " + target + " -> GeoParquet",
			engine: pipeline(shpInput, target, `"data_sink.geoparquet","parameters":{"output_path":"geoetl.parquet"}`)}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (gpkg, fgb, parquet)", name)
}

func pipeline(in, target, sink string) string {
	return `{"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"file_path":"` + in + `"}},
	  {"id":"rp","type":"geoprocessing.reproject","parameters":{"target_crs":"` + target + `"}},
	  {"id":"out","type":` + sink + `}],
	 "edges":[{"from":"src","to":"rp"},{"from":"rp","to":"out"}]}`
}

func bench(dir, name, target string, n, runs int) error {
	sc, err := scenarioOf(name, target)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if name == "gpkg" {
		err = generate(filepath.Join(dir, input), n, false)
	} else {
		err = generateShapefile(dir, n)
	}
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	engine := measure(runs, func() *exec.Cmd { return exec.Command(self, "-once", name, "-crs", target, "-dir", dir) })
	if engine.err != nil {
		return engine.err
	}
	fmt.Printf("geoetl : %d points, %s: median %s wall, %s CPU, peak RSS %d MB (runs: %s)\n",
		n, sc.label, engine.medianTime.Round(time.Millisecond), engine.medianCPU.Round(time.Millisecond), engine.medianRSS>>20, engine.detail)
	if name == "gpkg" {
		inWorker, err := measureWorker(self, dir, runs, json.RawMessage(sc.engine))
		if err != nil {
			return err
		}
		fmt.Printf("worker : %d points, the same run in a worker process: median %s wall, peak RSS of the worker %d MB (runs: %s)\n",
			n, inWorker.medianTime.Round(time.Millisecond), inWorker.medianRSS>>20, inWorker.detail)
	}
	if sc.ogrArgs == nil {
		return nil
	}
	if _, err := exec.LookPath("ogr2ogr"); err != nil {
		fmt.Println("ogr2ogr: not installed, no comparison (apt-get install gdal-bin)")
		return nil
	}
	out := filepath.Join(dir, sc.ogrOut)
	ogr := measure(runs, func() *exec.Cmd {
		os.Remove(out)
		return exec.Command("ogr2ogr", sc.ogrArgs(dir, target)...)
	})
	if ogr.err != nil {
		return ogr.err
	}
	fmt.Printf("ogr2ogr: %d points, %s: median %s wall, %s CPU, peak RSS %d MB (runs: %s)\n",
		n, sc.label, ogr.medianTime.Round(time.Millisecond), ogr.medianCPU.Round(time.Millisecond), ogr.medianRSS>>20, ogr.detail)
	fmt.Printf("ratio  : wall time %.2fx, CPU time %.2fx, peak memory %.2fx of ogr2ogr\n",
		float64(engine.medianTime)/float64(ogr.medianTime), float64(engine.medianCPU)/float64(ogr.medianCPU),
		float64(engine.medianRSS)/float64(ogr.medianRSS))
	return nil
}

// generateShapefile writes n points over Switzerland as a shapefile (by
// way of the engine's own shapefile sink, which the tests check against
// GDAL), unless it is there with the same count.
func generateShapefile(dir string, n int) error {
	marker := filepath.Join(dir, shpInput+".count")
	if b, err := os.ReadFile(marker); err == nil && string(b) == strconv.Itoa(n) {
		return nil
	}
	if err := generate(filepath.Join(dir, swissIn), n, true); err != nil {
		return err
	}
	e, err := etl.New(etl.Config{DataDir: filepath.Dir(dir)})
	if err != nil {
		return err
	}
	def := json.RawMessage(`{"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"file_path":"` + swissIn + `"}},
	  {"id":"out","type":"data_sink.shapefile","parameters":{"output_path":"` + shpInput + `"}}],
	 "edges":[{"from":"src","to":"out"}]}`)
	if _, err := e.Run(context.Background(), geoetl.RunRequest{ExecutionID: "generate", TenantName: filepath.Base(dir), Workflow: &geoetl.Workflow{Definition: def}}); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(strconv.Itoa(n)), 0o644)
}

type result struct {
	medianTime time.Duration
	medianCPU  time.Duration // user plus system time
	medianRSS  int64
	detail     string
	err        error
}

func measure(runs int, mk func() *exec.Cmd) result {
	var times, cpus []time.Duration
	var rss []int64
	detail := ""
	for i := 0; i < runs; i++ {
		cmd := mk()
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return result{err: fmt.Errorf("%s: %v", cmd.Path, err)}
		}
		d := time.Since(start)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		times = append(times, d)
		cpus = append(cpus, cpu)
		rss = append(rss, ru.Maxrss*1024)
		if detail != "" {
			detail += ", "
		}
		detail += fmt.Sprintf("%s wall/%s CPU/%dMB", d.Round(time.Millisecond), cpu.Round(time.Millisecond), ru.Maxrss>>10)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return result{medianTime: times[len(times)/2], medianCPU: cpus[len(cpus)/2], medianRSS: rss[len(rss)/2], detail: detail}
}

// generate writes n points with three attributes (worldwide, or over
// Switzerland), unless the file is already there with the same count.
func generate(path string, n int, swiss bool) error {
	marker := path + ".count"
	if b, err := os.ReadFile(marker); err == nil && string(b) == strconv.Itoa(n) {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"type":"FeatureCollection","features":[` + "\n")
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteString(",\n")
		}
		lon := -180 + 360*float64(i%100003)/100003
		lat := -80 + 160*float64((i*7919)%99991)/99991
		if swiss {
			lon = 5.96 + 4.52*float64(i%100003)/100003
			lat = 45.82 + 1.98*float64((i*7919)%99991)/99991
		}
		fmt.Fprintf(w, `{"type":"Feature","properties":{"id":%d,"name":"point %d","value":%.3f},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
			i, i, float64(i%1000)/7, lon, lat)
	}
	w.WriteString("\n]}\n")
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(strconv.Itoa(n)), 0o644)
}

func runOnce(dir, name, target string) error {
	sc, err := scenarioOf(name, target)
	if err != nil {
		return err
	}
	e, err := etl.New(etl.Config{DataDir: filepath.Dir(dir)})
	if err != nil {
		return err
	}
	sum, err := e.Run(context.Background(), geoetl.RunRequest{ExecutionID: "bench", TenantName: filepath.Base(dir), Workflow: &geoetl.Workflow{Definition: json.RawMessage(sc.engine)}})
	if err != nil {
		return err
	}
	if sum.FeaturesWritten == 0 {
		return fmt.Errorf("nothing written")
	}
	return nil
}

// measureWorker runs the workflow through a worker pool whose workers are
// this program (-worker), one fresh worker per run so that each run's
// peak memory (the worker's VmHWM after the run) is its own.
func measureWorker(self, dir string, runs int, def json.RawMessage) (result, error) {
	local, err := etl.New(etl.Config{DataDir: filepath.Dir(dir)})
	if err != nil {
		return result{}, err
	}
	var times []time.Duration
	var rss []int64
	detail := ""
	for range runs {
		pl, err := worker.New(worker.Config{Command: []string{self, "-worker", "-dir", dir}, Local: local, Warm: 1, MemoryLimit: 16 << 30})
		if err != nil {
			return result{}, err
		}
		if err := pl.Start(context.Background()); err != nil {
			return result{}, err
		}
		rec := &pidRecorder{}
		start := time.Now()
		sum, err := pl.Run(context.Background(), geoetl.RunRequest{ExecutionID: "bench", TenantName: filepath.Base(dir), Workflow: &geoetl.Workflow{Name: "bench", Definition: def}, Recorder: rec})
		d := time.Since(start)
		if err == nil && sum.FeaturesWritten == 0 {
			err = fmt.Errorf("nothing written")
		}
		hwm := peakRSS(rec.pid)
		pl.Close(context.Background())
		if err != nil {
			return result{}, err
		}
		times = append(times, d)
		rss = append(rss, hwm)
		if detail != "" {
			detail += ", "
		}
		detail += fmt.Sprintf("%s wall/%dMB", d.Round(time.Millisecond), hwm>>20)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return result{medianTime: times[len(times)/2], medianRSS: rss[len(rss)/2], detail: detail}, nil
}

// pidRecorder notes the worker process a run went to, from its log.
type pidRecorder struct{ pid int }

func (r *pidRecorder) Node(geoetl.NodeRun) {}
func (r *pidRecorder) Log(_, _, msg string) {
	if p, ok := strings.CutPrefix(msg, "running in worker process "); ok {
		r.pid, _ = strconv.Atoi(p)
	}
}

// peakRSS is a live process's peak resident memory (VmHWM).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
